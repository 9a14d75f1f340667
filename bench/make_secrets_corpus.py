"""Writes bench/secrets_corpus.tsv: a labelled corpus of container environment variables.

Harmless rows are the ENV lines of popular official images (postgres, mysql, mariadb, redis, nginx, node,
python, openjdk/eclipse-temurin, golang, rabbitmq, grafana, mongo, elasticsearch, keycloak, minio, wordpress,
php, tomcat) and what Kubernetes, CI systems and cloud SDKs inject, as their public documentation lists them,
plus hard negatives (checksums, key fingerprints, ids, public keys, URLs without credentials, *_FILE paths,
settings named after secrets). Secret rows use the variables those images document for credentials, and fake
tokens generated to follow each provider's published format. Values are fake; the generator is seeded, so the
file is reproducible:   python bench/make_secrets_corpus.py

Format: NAME<TAB>VALUE<TAB>LABEL, one row a line; LABEL is a rule family (provider, private-key, jwt,
url-password, secret-name, high-entropy) or `none`. In VALUE, `\\n` stands for a newline, `\\t` for a tab and
`\\\\` for a backslash. Lines starting with # are comments.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from pathlib import Path

OUT = Path(__file__).with_name("secrets_corpus.tsv")
R = random.Random(20261124)
ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def hexs(n: int) -> str:
    return rnd(n, HEX)


def b64(nbytes: int) -> str:
    return base64.b64encode(R.randbytes(nbytes)).decode()


def b64url(nbytes: int) -> str:
    return base64.urlsafe_b64encode(R.randbytes(nbytes)).decode().rstrip("=")


def uid() -> str:
    return str(uuid.UUID(bytes=R.randbytes(16), version=4))


def jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': rnd(8)})}.{part(claims)}.{b64url(64)}"


def pem(kind: str, lines: int = 6) -> str:
    body = "\n".join(b64(48) for _ in range(lines))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def password() -> str:
    return R.choice(
        [
            "hunter2",
            "postgres",
            "changeme",
            "Sup3rS3cret!",
            "P@ssw0rd2024",
            "correct horse battery staple",
            "example",
            "admin123",
            "root",
            "s3cr3t",
            "letmein!",
            "Tr0ub4dor&3",
            "mysecretpassword",
            "qwerty123",
            rnd(12),
            rnd(16),
            rnd(20, ALNUM + "!#%&*+-=?@^_"),
            rnd(24),
            hexs(32),
            "1234567890",
        ]
    )


ROWS: list[tuple[str, str, str]] = []


def add(label: str, *pairs: tuple[str, str]) -> None:
    for name, value in pairs:
        ROWS.append((name, value, label))


def harmless_images() -> None:
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    add(
        "none",
        # every image
        ("PATH", path),
        ("PATH", "/usr/local/bin:" + path),
        ("PATH", "/opt/java/openjdk/bin:" + path),
        ("PATH", "/go/bin:/usr/local/go/bin:" + path),
        ("PATH", "/opt/venv/bin:" + path),
        ("HOME", "/root"),
        ("HOME", "/home/node"),
        ("HOME", "/var/lib/postgresql"),
        ("HOSTNAME", hexs(12)),
        ("HOSTNAME", hexs(12)),
        ("HOSTNAME", "web-7f9c8d6b5-x2x4q"),
        ("HOSTNAME", "grafana-0"),
        ("TERM", "xterm"),
        ("TERM", "xterm-256color"),
        ("LANG", "C.UTF-8"),
        ("LANG", "en_US.utf8"),
        ("LANGUAGE", "en_US:en"),
        ("LC_ALL", "en_US.UTF-8"),
        ("LC_CTYPE", "C.UTF-8"),
        ("TZ", "UTC"),
        ("TZ", "Europe/Paris"),
        ("SHLVL", "1"),
        ("PWD", "/app"),
        ("OLDPWD", "/"),
        ("container", "podman"),
        ("container", "oci"),
        ("_", "/usr/bin/env"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("USER", "app"),
        ("SHELL", "/bin/bash"),
        (
            "LS_COLORS",
            "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01:cd=40;33;01:or=40;31;01",
        ),
        ("PS1", r"\u@\h:\w\$ "),
        # python
        ("PYTHON_VERSION", "3.12.1"),
        ("PYTHON_VERSION", "3.11.7"),
        ("PYTHON_SHA256", hexs(64)),
        ("GPG_KEY", rnd(40, "0123456789ABCDEF")),
        ("GPG_KEY", rnd(40, "0123456789ABCDEF")),
        ("PYTHON_PIP_VERSION", "23.2.1"),
        ("PYTHON_SETUPTOOLS_VERSION", "65.5.1"),
        ("PYTHON_GET_PIP_URL", f"https://github.com/pypa/get-pip/raw/{hexs(40)}/public/get-pip.py"),
        ("PYTHON_GET_PIP_SHA256", hexs(64)),
        ("PYTHONUNBUFFERED", "1"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("PYTHONPATH", "/app:/app/src"),
        ("PIP_NO_CACHE_DIR", "off"),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "on"),
        ("PIP_INDEX_URL", "https://pypi.org/simple"),
        ("VIRTUAL_ENV", "/opt/venv"),
        ("POETRY_VERSION", "1.7.1"),
        ("POETRY_HOME", "/opt/poetry"),
        ("PIP_ROOT_USER_ACTION", "ignore"),
        # node
        ("NODE_VERSION", "20.11.1"),
        ("NODE_VERSION", "18.19.0"),
        ("YARN_VERSION", "1.22.19"),
        ("NODE_ENV", "production"),
        ("NPM_CONFIG_LOGLEVEL", "warn"),
        ("NODE_OPTIONS", "--max-old-space-size=4096"),
        ("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"),
        ("NODE_OPTIONS", "--require /app/tracing.js"),
        ("NEXT_TELEMETRY_DISABLED", "1"),
        ("NEXT_PUBLIC_API_URL", "https://api.example.com"),
        # java / tomcat / maven
        ("JAVA_HOME", "/opt/java/openjdk"),
        ("JAVA_VERSION", "jdk-17.0.9+9"),
        ("JAVA_VERSION", "21.0.1"),
        ("JAVA_OPTS", "-Xms256m -Xmx1g"),
        ("JAVA_OPTS", "-Dfile.encoding=UTF-8 -Duser.timezone=UTC"),
        ("JAVA_TOOL_OPTIONS", "-XX:+UseContainerSupport -XX:MaxRAMPercentage=75.0"),
        ("JAVA_OPTS", "-Djavax.net.ssl.trustStore=/etc/ssl/truststore.jks"),
        ("CATALINA_OPTS", "-Djava.security.egd=file:/dev/./urandom"),
        ("CATALINA_HOME", "/usr/local/tomcat"),
        ("TOMCAT_MAJOR", "10"),
        ("TOMCAT_VERSION", "10.1.17"),
        ("TOMCAT_SHA512", hexs(128)),
        ("TOMCAT_NATIVE_LIBDIR", "/usr/local/tomcat/native-jni-lib"),
        ("GPG_KEYS", " ".join(rnd(40, "0123456789ABCDEF") for _ in range(4))),
        ("MAVEN_HOME", "/usr/share/maven"),
        ("MAVEN_CONFIG", "/root/.m2"),
        ("MAVEN_VERSION", "3.9.6"),
        ("LD_LIBRARY_PATH", "/usr/local/tomcat/native-jni-lib"),
        # golang
        ("GOLANG_VERSION", "1.21.6"),
        ("GOPATH", "/go"),
        ("GOTOOLCHAIN", "local"),
        ("CGO_ENABLED", "0"),
        ("GO111MODULE", "on"),
        ("GOFLAGS", "-mod=vendor"),
        ("GOPROXY", "https://proxy.golang.org,direct"),
        ("GOOS", "linux"),
        ("GOARCH", "amd64"),
        # postgres
        ("PG_MAJOR", "16"),
        ("PG_VERSION", "16.1-1.pgdg120+1"),
        ("PGDATA", "/var/lib/postgresql/data"),
        ("POSTGRES_USER", "app"),
        ("POSTGRES_DB", "app"),
        ("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres-passwd"),
        ("POSTGRES_HOST_AUTH_METHOD", "trust"),
        ("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256"),
        ("POSTGRES_INITDB_ARGS", "--data-checksums"),
        ("POSTGRES_INITDB_WALDIR", "/var/lib/postgresql/wal"),
        ("GOSU_VERSION", "1.17"),
        ("PGPORT", "5432"),
        ("PGHOST", "db"),
        ("PGUSER", "postgres"),
        # mysql / mariadb
        ("MYSQL_MAJOR", "8.0"),
        ("MYSQL_VERSION", "8.0.35-1.el8"),
        ("MYSQL_SHELL_VERSION", "8.0.35-1.el8"),
        ("MYSQL_DATABASE", "wordpress"),
        ("MYSQL_USER", "wp"),
        ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
        ("MYSQL_RANDOM_ROOT_PASSWORD", "yes"),
        ("MYSQL_ONETIME_PASSWORD", "yes"),
        ("MYSQL_ROOT_HOST", "%"),
        ("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/mysql-root"),
        ("MYSQL_PASSWORD_FILE", "/run/secrets/mysql-user"),
        ("MARIADB_VERSION", "1:11.2.2+maria~ubu2204"),
        ("MARIADB_AUTO_UPGRADE", "1"),
        ("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "1"),
        ("MARIADB_MYSQL_LOCALHOST_USER", "1"),
        ("MARIADB_DATABASE", "app"),
        ("MARIADB_USER", "app"),
        # redis
        ("REDIS_VERSION", "7.2.4"),
        ("REDIS_DOWNLOAD_URL", "http://download.redis.io/releases/redis-7.2.4.tar.gz"),
        ("REDIS_DOWNLOAD_SHA", hexs(64)),
        ("ALLOW_EMPTY_PASSWORD", "yes"),
        ("REDIS_PASSWORD_FILE", "/run/secrets/redis"),
        ("REDIS_AOF_ENABLED", "no"),
        ("REDIS_TLS_ENABLED", "no"),
        ("REDIS_PORT_NUMBER", "6379"),
        # nginx
        ("NGINX_VERSION", "1.25.3"),
        ("NJS_VERSION", "0.8.2"),
        ("NJS_RELEASE", "1~bookworm"),
        ("PKG_RELEASE", "1~bookworm"),
        ("DYNPKG_RELEASE", "2~bookworm"),
        ("NGINX_ENVSUBST_TEMPLATE_DIR", "/etc/nginx/templates"),
        ("NGINX_ENVSUBST_OUTPUT_DIR", "/etc/nginx/conf.d"),
        ("NGINX_ENTRYPOINT_QUIET_LOGS", "1"),
        ("NGINX_PORT", "80"),
        ("NGINX_HOST", "example.com"),
        # rabbitmq
        ("RABBITMQ_VERSION", "3.12.12"),
        ("RABBITMQ_PGP_KEY_ID", "0x0A9AF2115F4687BD29803A206B73A36E6026DFCA"),
        ("RABBITMQ_HOME", "/opt/rabbitmq"),
        ("RABBITMQ_LOGS", "-"),
        ("RABBITMQ_DATA_DIR", "/var/lib/rabbitmq"),
        ("OPENSSL_VERSION", "3.1.4"),
        ("OPENSSL_SOURCE_SHA256", hexs(64)),
        (
            "OPENSSL_PGP_KEY_IDS",
            "0x8657ABB260F056B1E5190839D9C4D26D0E604491 0xB7C1C14360F353A36862E4D5231C84CDDCC69C45",
        ),
        ("OTP_VERSION", "26.2.1"),
        ("OTP_SOURCE_SHA256", hexs(64)),
        ("RABBITMQ_DEFAULT_USER", "guest"),
        ("RABBITMQ_DEFAULT_VHOST", "/"),
        ("RABBITMQ_NODENAME", "rabbit@rabbitmq"),
        # grafana
        ("GF_PATHS_CONFIG", "/etc/grafana/grafana.ini"),
        ("GF_PATHS_DATA", "/var/lib/grafana"),
        ("GF_PATHS_HOME", "/usr/share/grafana"),
        ("GF_PATHS_LOGS", "/var/log/grafana"),
        ("GF_PATHS_PLUGINS", "/var/lib/grafana/plugins"),
        ("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
        ("GF_SECURITY_ADMIN_USER", "admin"),
        ("GF_AUTH_ANONYMOUS_ENABLED", "true"),
        ("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer"),
        ("GF_INSTALL_PLUGINS", "grafana-clock-panel,grafana-piechart-panel"),
        ("GF_SERVER_ROOT_URL", "https://grafana.example.com/"),
        ("GF_USERS_ALLOW_SIGN_UP", "false"),
        ("GF_AUTH_GENERIC_OAUTH_CLIENT_ID", "grafana"),
        ("GF_AUTH_GENERIC_OAUTH_TOKEN_URL", "https://auth.example.com/oauth/token"),
        ("GF_AUTH_GENERIC_OAUTH_API_URL", "https://auth.example.com/userinfo"),
        ("GF_AUTH_GENERIC_OAUTH_SCOPES", "openid email profile"),
        ("GF_DATABASE_TYPE", "postgres"),
        ("GF_DATABASE_HOST", "db:5432"),
        ("GF_DATABASE_USER", "grafana"),
        ("GF_SECURITY_ADMIN_PASSWORD__FILE", "/run/secrets/admin_password"),
        # mongo
        ("MONGO_INITDB_ROOT_USERNAME", "root"),
        ("MONGO_INITDB_DATABASE", "test"),
        ("MONGO_VERSION", "7.0.4"),
        ("MONGO_MAJOR", "7.0"),
        ("MONGO_PACKAGE", "mongodb-org"),
        ("MONGO_REPO", "repo.mongodb.org"),
        ("JSYAML_VERSION", "3.13.1"),
        ("MONGO_INITDB_ROOT_PASSWORD_FILE", "/run/secrets/mongo-root"),
        # elasticsearch
        ("ES_JAVA_OPTS", "-Xms512m -Xmx512m"),
        ("discovery.type", "single-node"),
        ("xpack.security.enabled", "false"),
        ("ELASTIC_CONTAINER", "true"),
        ("cluster.name", "docker-cluster"),
        ("bootstrap.memory_lock", "true"),
        ("ELASTIC_PASSWORD_FILE", "/run/secrets/elastic"),
        # keycloak
        ("KC_HOSTNAME", "auth.example.com"),
        ("KC_DB", "postgres"),
        ("KC_DB_URL", "jdbc:postgresql://db/keycloak"),
        ("KC_DB_USERNAME", "keycloak"),
        ("KC_HEALTH_ENABLED", "true"),
        ("KEYCLOAK_ADMIN", "admin"),
        ("KC_PROXY", "edge"),
        # minio
        ("MINIO_ROOT_USER", "minioadmin"),
        ("MINIO_BROWSER", "on"),
        ("MINIO_REGION", "us-east-1"),
        ("MINIO_VOLUMES", "/data"),
        ("MINIO_ROOT_PASSWORD_FILE", "/run/secrets/minio"),
        # wordpress / php
        ("WORDPRESS_DB_HOST", "db:3306"),
        ("WORDPRESS_DB_USER", "wp"),
        ("WORDPRESS_DB_NAME", "wp"),
        ("WORDPRESS_TABLE_PREFIX", "wp_"),
        ("WORDPRESS_DEBUG", "1"),
        ("WORDPRESS_VERSION", "6.4.2"),
        ("WORDPRESS_SHA1", hexs(40)),
        ("PHP_VERSION", "8.2.14"),
        ("PHP_URL", "https://www.php.net/distributions/php-8.2.14.tar.xz"),
        ("PHP_ASC_URL", "https://www.php.net/distributions/php-8.2.14.tar.xz.asc"),
        ("PHP_SHA256", hexs(64)),
        ("PHP_CFLAGS", "-fstack-protector-strong -fpic -fpie -O2 -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64"),
        ("PHP_LDFLAGS", "-Wl,-O1 -pie"),
        ("PHPIZE_DEPS", "autoconf dpkg-dev file g++ gcc libc-dev make pkg-config re2c"),
        ("PHP_INI_DIR", "/usr/local/etc/php"),
        ("APACHE_CONFDIR", "/etc/apache2"),
        ("APACHE_ENVVARS", "/etc/apache2/envvars"),
        ("APACHE_RUN_USER", "www-data"),
        ("WORDPRESS_DB_PASSWORD_FILE", "/run/secrets/wp-db"),
    )


def harmless_platform() -> None:
    add(
        "none",
        # Kubernetes service links and downward API
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
        ("REDIS_MASTER_PORT_6379_TCP", "tcp://10.100.2.3:6379"),
        ("API_SERVICE_HOST", "10.100.14.2"),
        ("POD_NAME", "api-6d5f7c9b8-qwz4r"),
        ("POD_NAMESPACE", "prod"),
        ("POD_IP", "10.244.1.17"),
        ("POD_UID", uid()),
        ("NODE_NAME", "ip-10-0-1-23.eu-west-1.compute.internal"),
        # cloud SDKs: where credentials are, not credentials
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_PROFILE", "prod"),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/root/.aws/credentials"),
        ("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/var/secrets/google/key.json"),
        ("GOOGLE_CLOUD_PROJECT", "my-project-123"),
        ("AZURE_CLIENT_ID", uid()),
        ("AZURE_TENANT_ID", uid()),
        ("AZURE_SUBSCRIPTION_ID", uid()),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        ("VAULT_ADDR", "https://vault.example.com:8200"),
        ("VAULT_NAMESPACE", "admin"),
        ("VAULT_SKIP_VERIFY", "false"),
        ("VAULT_CACERT", "/vault/tls/ca.crt"),
        ("SECRETS_DIR", "/run/secrets"),
        ("SECRET_NAME", "app/prod/db"),
        ("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf"),
        # app settings named after secrets, that are not
        ("JWT_ALGORITHM", "HS256"),
        ("JWT_EXPIRATION", "3600"),
        ("JWT_ISSUER", "https://auth.example.com/"),
        ("JWT_AUDIENCE", "api"),
        ("TOKEN_TTL", "900"),
        ("ACCESS_TOKEN_EXPIRES_IN", "15m"),
        ("REFRESH_TOKEN_LIFETIME", "7d"),
        ("PASSWORD_MIN_LENGTH", "12"),
        ("PASSWORD_HASHERS", "argon2,bcrypt"),
        ("AUTH_METHOD", "oidc"),
        ("AUTH_URL", "https://auth.example.com"),
        ("AUTH_ENABLED", "true"),
        ("SESSION_COOKIE_NAME", "sid"),
        ("SESSION_TIMEOUT", "30m"),
        ("SESSION_COOKIE_SECURE", "true"),
        ("CSRF_HEADER", "X-CSRF-Token"),
        ("API_KEY_HEADER", "X-API-Key"),
        ("OIDC_CLIENT_ID", "webapp"),
        ("OAUTH_TOKEN_URL", "https://auth.example.com/oauth/token"),
        ("TOKEN_ENDPOINT", "https://idp/token"),
        ("SECRET_KEY_FILE", "/run/secrets/django"),
        ("API_TOKEN_PATH", "/etc/app/token"),
        ("CREDENTIALS_DIRECTORY", "/run/credentials/app.service"),
        ("REQUIRE_PASSWORD", "false"),
        ("PASSWORD_RESET_TIMEOUT", "259200"),
        ("TOKEN_TYPE", "Bearer"),
        ("KEY_ALGORITHM", "RS256"),
        ("ENCRYPTION_ALGORITHM", "AES-256-GCM"),
        ("PASSWORD_POLICY", "strong"),
        ("TOKEN_PREFIX", "Bearer"),
        ("CACHE_KEY", "user-profile-v2"),
        ("CACHE_KEY_PREFIX", "myapp:"),
        ("PARTITION_KEY", "tenant_id"),
        ("SORT_KEY", "created_at"),
        ("PRIMARY_KEY", "id"),
        ("KEY_PREFIX", "sess:"),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rnd(43) + " deploy@ci"),
        ("SSH_PUBLIC_KEY", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + rnd(200, ALNUM + "+/") + " user@host"),
        ("TLS_CERT", pem("CERTIFICATE")),
        ("CA_CERT", pem("CERTIFICATE", 3)),
        ("JWT_PUBLIC_KEY", pem("PUBLIC KEY", 4)),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + rnd(24)),
        ("STRIPE_PUBLIC_KEY", "pk_test_" + rnd(34)),
        ("PASSWORD", ""),
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("API_TOKEN", "<your-token>"),
        ("SECRET_KEY", "{{ .Values.secretKey }}"),
        ("REDIS_PASSWORD", "********"),
        ("ADMIN_PASSWORD", "-"),
        ("SMTP_PASSWORD", "$SMTP_PASSWORD"),
        # URLs and addresses without credentials
        ("REDIS_URL", "redis://redis:6379/0"),
        ("DATABASE_URL", "postgres://app@db:5432/app"),
        ("AMQP_URL", "amqp://rabbitmq:5672"),
        ("MONGO_URL", "mongodb://mongo:27017/app"),
        ("ELASTICSEARCH_URL", "http://es:9200"),
        ("CELERY_BROKER_URL", "redis://redis:6379/1"),
        ("HTTP_PROXY", "http://proxy.corp:3128"),
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ("NO_PROXY", "localhost,127.0.0.1,.svc,.cluster.local"),
        ("SPRING_DATASOURCE_URL", "jdbc:postgresql://db:5432/app"),
        (
            "SENTRY_DSN",
            f"https://{hexs(32)}@o{R.randint(100000, 999999)}.ingest.sentry.io/{R.randint(1000000, 9999999)}",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4317"),
        ("WEBHOOK_URL", "https://hooks.example.com/deploy"),
        # ids, digests, commits, versions: random-looking, not secret
        ("BUILD_ID", uid()),
        ("GIT_COMMIT", hexs(40)),
        ("GIT_SHA", hexs(40)),
        ("COMMIT_SHA", hexs(40)),
        ("SOURCE_COMMIT", hexs(40)),
        ("VCS_REF", hexs(40)),
        ("IMAGE_DIGEST", "sha256:" + hexs(64)),
        ("RELEASE", "2024.01.15-3"),
        ("APP_VERSION", "v1.14.2"),
        ("INSTANCE_ID", "i-0" + hexs(16)),
        ("REQUEST_ID_HEADER", "X-Request-Id"),
        ("CONTAINER_ID", hexs(64)),
        ("TRACE_ID", hexs(32)),
        ("DEPLOYMENT_ID", uid()),
        ("RUN_ID", str(R.randint(10**9, 10**10))),
        ("GITHUB_SHA", hexs(40)),
        ("CI_COMMIT_SHA", hexs(40)),
        ("CI_PIPELINE_ID", str(R.randint(10**6, 10**8))),
        ("SSH_KEY_FINGERPRINT", "SHA256:" + b64(32).rstrip("=")),
        ("GPG_FINGERPRINT", rnd(40, "0123456789ABCDEF")),
        ("CHECKSUM", "sha512:" + hexs(128)),
        # everything else containers carry
        ("SPRING_PROFILES_ACTIVE", "prod"),
        ("SPRING_DATASOURCE_USERNAME", "app"),
        ("DJANGO_SETTINGS_MODULE", "app.settings.prod"),
        ("DJANGO_ALLOWED_HOSTS", "*"),
        ("LOG_LEVEL", "info"),
        ("APP_ENV", "prod"),
        ("PORT", "8080"),
        ("WORKERS", "4"),
        ("DEBUG", "false"),
        ("SENTRY_ENVIRONMENT", "production"),
        ("FEATURE_FLAGS", "new-ui,beta-search"),
        ("SSL_CERT_DIR", "/etc/ssl/certs"),
        ("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"),
        ("SSH_AUTH_SOCK", "/tmp/ssh-XXXXabcd/agent.42"),
        ("KUBECONFIG", "/root/.kube/config"),
        ("MALLOC_ARENA_MAX", "2"),
        ("GOMAXPROCS", "4"),
        ("UV_THREADPOOL_SIZE", "8"),
        ("WEB_CONCURRENCY", "3"),
        ("TINI_SUBREAPER", "1"),
        ("S6_KEEP_ENV", "1"),
        ("ENTRYPOINT_ARGS", "--config /etc/app/config.yaml --verbose"),
        ("APP_NAME", "checkout-service"),
        ("REGION", "eu-west-1"),
        ("CLUSTER", "prod-eu-1"),
        ("DB_HOST", "postgres.prod.svc.cluster.local"),
        ("DB_PORT", "5432"),
        ("DB_USER", "app"),
        ("DB_NAME", "app"),
        ("SMTP_HOST", "smtp.example.com"),
        ("SMTP_USER", "noreply@example.com"),
        ("MAIL_FROM", "noreply@example.com"),
        ("ALLOWED_ORIGINS", "https://example.com,https://www.example.com"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=api,deployment.environment=prod"),
        ("CONFIG_B64", base64.b64encode(b'{"log":"info","port":8080}').decode()),
        ("SERVICE_ACCOUNT", "app@my-project-123.iam.gserviceaccount.com"),
    )


def secrets_named() -> None:
    names = [
        "POSTGRES_PASSWORD",
        "MYSQL_ROOT_PASSWORD",
        "MYSQL_PASSWORD",
        "MARIADB_ROOT_PASSWORD",
        "MARIADB_PASSWORD",
        "REDIS_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "GF_SECURITY_ADMIN_PASSWORD",
        "GF_DATABASE_PASSWORD",
        "MONGO_INITDB_ROOT_PASSWORD",
        "ELASTIC_PASSWORD",
        "KEYCLOAK_ADMIN_PASSWORD",
        "KC_DB_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "WORDPRESS_DB_PASSWORD",
        "DB_PASSWORD",
        "DB_PASS",
        "DATABASE_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PWD",
        "SPRING_DATASOURCE_PASSWORD",
        "SMTP_PASSWORD",
        "EMAIL_HOST_PASSWORD",
        "LDAP_BIND_PASSWORD",
        "LDAP_ADMIN_PASSWORD",
        "DOCKER_PASSWORD",
        "REGISTRY_PASSWORD",
        "ADMIN_PASSWORD",
        "SSHPASS",
        "KEYSTORE_PASSWORD",
        "TRUSTSTORE_PASSWORD",
        "dbPassword",
        "spring.datasource.password",
        "REDIS_AUTH",
        "AMQP_PASS",
        "NEO4J_AUTH_PASSWORD",
        "INFLUXDB_ADMIN_PASSWORD",
        "JENKINS_ADMIN_PASSWORD",
    ]
    for name in names:
        add("secret-name", (name, password()))
    keys = {
        "RABBITMQ_ERLANG_COOKIE": lambda: rnd(20, string.ascii_uppercase),
        "GF_SECURITY_SECRET_KEY": lambda: rnd(32),
        "MINIO_SECRET_KEY": lambda: rnd(40, ALNUM + "+/"),
        "WORDPRESS_AUTH_KEY": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "WORDPRESS_SECURE_AUTH_KEY": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "WORDPRESS_LOGGED_IN_KEY": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "WORDPRESS_NONCE_KEY": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "WORDPRESS_AUTH_SALT": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "WORDPRESS_NONCE_SALT": lambda: rnd(64, ALNUM + "!@#$%^&*()-_[]{}<>~`+=,.;:/?|"),
        "DJANGO_SECRET_KEY": lambda: (
            "django-insecure-" + rnd(50, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)")
        ),
        "SECRET_KEY": lambda: rnd(50, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"),
        "SECRET_KEY_BASE": lambda: hexs(128),
        "FLASK_SECRET_KEY": lambda: hexs(32),
        "SESSION_SECRET": lambda: rnd(32),
        "NEXTAUTH_SECRET": lambda: b64(32),
        "JWT_SECRET": lambda: rnd(32),
        "JWT_SECRET_KEY": lambda: "super-secret-jwt-key",
        "COOKIE_SECRET": lambda: rnd(24),
        "ENCRYPTION_KEY": lambda: b64(32),
        "APP_KEY": lambda: "base64:" + b64(32),
        "API_KEY": lambda: rnd(32),
        "API_TOKEN": lambda: rnd(40),
        "AUTH_TOKEN": lambda: hexs(40),
        "ACCESS_TOKEN": lambda: rnd(48),
        "CLIENT_SECRET": lambda: rnd(32),
        "OAUTH_CLIENT_SECRET": lambda: rnd(40, ALNUM + "-_"),
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": lambda: rnd(32),
        "AWS_SESSION_TOKEN": lambda: "FwoGZXIvYXdzE" + rnd(300, ALNUM + "+/"),
        "REGISTRY_HTTP_SECRET": lambda: rnd(32),
        "CONSUL_HTTP_TOKEN": uid,
        "HEROKU_API_KEY": uid,
        "DD_API_KEY": lambda: hexs(32),
        "DATADOG_API_KEY": lambda: hexs(32),
        "DD_APP_KEY": lambda: hexs(40),
        "NEW_RELIC_LICENSE_KEY": lambda: hexs(36) + "NRAL",
        "SENTRY_AUTH_TOKEN": lambda: "sntrys_" + b64(60).rstrip("="),
        "HONEYCOMB_API_KEY": lambda: rnd(22),
        "ALGOLIA_ADMIN_KEY": lambda: hexs(32),
        "TWILIO_AUTH_TOKEN": lambda: hexs(32),
        "GITHUB_WEBHOOK_SECRET": lambda: hexs(40),
        "WEBHOOK_SECRET": lambda: rnd(32),
        "SLACK_SIGNING_SECRET": lambda: hexs(32),
        "HMAC_KEY": lambda: hexs(64),
        "RAILS_MASTER_KEY": lambda: hexs(32),
        "LICENSE_KEY": lambda: "-".join(rnd(5, UPPER_DIGITS) for _ in range(5)),
        "MEILI_MASTER_KEY": lambda: rnd(32),
        "TYPESENSE_API_KEY": lambda: rnd(32),
        "PORTAINER_ADMIN_PASSWORD": lambda: "$2y$05$" + rnd(53, ALNUM + "./"),
        "TRAEFIK_BASIC_AUTH": lambda: "admin:$apr1$" + rnd(8) + "$" + rnd(22, ALNUM + "./"),
        "PIN": lambda: "4711",
        "VAULT_UNSEAL_KEY": lambda: b64(32),
        "N8N_ENCRYPTION_KEY": lambda: rnd(32),
        "OUTLINE_SECRET_KEY": lambda: hexs(64),
        "SUPABASE_SERVICE_ROLE_SECRET": lambda: rnd(40),
        "apiKey": lambda: rnd(32),
        "clientSecret": lambda: rnd(24),
        "X_API_KEY": lambda: rnd(32),
        "DRONE_RPC_SECRET": lambda: hexs(32),
        "ATLANTIS_GH_WEBHOOK_SECRET": lambda: rnd(32),
        "CI_JOB_TOKEN": lambda: rnd(20),
        "NPM_TOKEN": uid,
        "NODE_AUTH_TOKEN": uid,
    }
    for name, make in keys.items():
        add("secret-name", (name, make()))


def akia() -> str:
    return R.choice(["AKIA", "ASIA"]) + rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def secrets_provider() -> None:
    add(
        "provider",
        ("AWS_ACCESS_KEY_ID", akia()),
        ("AWS_ACCESS_KEY_ID", akia()),
        ("AWS_ACCESS_KEY_ID", akia()),
        ("S3_ACCESS_KEY", akia()),
        ("BACKUP_AWS_KEY", akia()),
        ("AWS_SECRET_ACCESS_KEY", rnd(40, ALNUM + "+/")),
        ("AWS_SECRET_ACCESS_KEY", rnd(40, ALNUM + "+/")),
        ("aws_secret_access_key", rnd(40, ALNUM + "+/")),
        ("AWS_SECRET_KEY", rnd(40, ALNUM + "/")),
        ("GITHUB_TOKEN", "ghp_" + rnd(36)),
        ("GH_TOKEN", "gho_" + rnd(36)),
        ("GITHUB_APP_TOKEN", "ghs_" + rnd(36)),
        ("RENOVATE_TOKEN", "ghp_" + rnd(36)),
        ("GITHUB_PAT", "github_pat_" + rnd(22) + "_" + rnd(59)),
        ("GIT_TOKEN", "ghu_" + rnd(36)),
        ("GITHUB_REFRESH", "ghr_" + rnd(36)),
        ("GITLAB_TOKEN", "glpat-" + rnd(20, ALNUM + "-_")),
        ("CI_REGISTRY_PASSWORD", "glpat-" + rnd(20)),
        ("GITLAB_RUNNER_TOKEN", "glrt-" + rnd(20)),
        ("DANGER_GITLAB_API_TOKEN", "glpat-" + rnd(20)),
        ("SLACK_BOT_TOKEN", f"xoxb-{R.randint(10**11, 10**12)}-{R.randint(10**12, 10**13)}-{rnd(24)}"),
        (
            "SLACK_TOKEN",
            f"xoxp-{R.randint(10**11, 10**12)}-{R.randint(10**11, 10**12)}-{R.randint(10**12, 10**13)}-{hexs(32)}",
        ),
        (
            "SLACK_WEBHOOK_URL",
            f"https://hooks.slack.com/services/T{rnd(8, UPPER_DIGITS)}/B{rnd(10, UPPER_DIGITS)}/{rnd(24)}",
        ),
        (
            "ALERTMANAGER_SLACK_URL",
            f"https://hooks.slack.com/services/T{rnd(8, UPPER_DIGITS)}/B{rnd(8, UPPER_DIGITS)}/{rnd(24)}",
        ),
        ("SLACK_APP_TOKEN", f"xapp-1-A{rnd(10, UPPER_DIGITS)}-{R.randint(10**12, 10**13)}-{hexs(64)}"),
        ("STRIPE_SECRET_KEY", "sk_live_" + rnd(24)),
        ("STRIPE_API_KEY", "sk_live_" + rnd(99)),
        ("STRIPE_KEY", "rk_live_" + rnd(24)),
        ("STRIPE_TEST_KEY", "sk_test_" + rnd(24)),
        ("STRIPE_WEBHOOK_SECRET", "whsec_" + rnd(32)),
        ("GOOGLE_API_KEY", "AIza" + rnd(35, ALNUM + "-_")),
        ("GOOGLE_MAPS_API_KEY", "AIza" + rnd(35, ALNUM + "-_")),
        ("FIREBASE_API_KEY", "AIza" + rnd(35, ALNUM + "-_")),
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            "DefaultEndpointsProtocol=https;AccountName=mystore;AccountKey="
            + b64(66)
            + ";EndpointSuffix=core.windows.net",
        ),
        ("AzureWebJobsStorage", "DefaultEndpointsProtocol=https;AccountName=fn;AccountKey=" + b64(66)),
        (
            "SERVICEBUS_CONNECTION",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=" + b64(32),
        ),
        ("AZURE_CLIENT_SECRET", rnd(3, ALNUM) + "8Q~" + rnd(34, ALNUM + "_~.-")),
        ("TWILIO_API_KEY", "SK" + hexs(32)),
        ("TWILIO_KEY_SID", "SK" + hexs(32)),
        ("SENDGRID_API_KEY", "SG." + rnd(22, ALNUM + "-_") + "." + rnd(43, ALNUM + "-_")),
        ("SMTP_PASSWORD", "SG." + rnd(22, ALNUM + "-_") + "." + rnd(43, ALNUM + "-_")),
        ("NPM_TOKEN", "npm_" + rnd(36)),
        ("NPM_AUTH_TOKEN", "npm_" + rnd(36)),
        ("NPM_CONFIG_//registry.npmjs.org/:_authToken", "npm_" + rnd(36)),
        ("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + rnd(80, ALNUM + "-_")),
        ("TWINE_PASSWORD", "pypi-AgEIcHlwaS5vcmc" + rnd(120, ALNUM + "-_")),
        ("OPENAI_API_KEY", "sk-" + rnd(20) + "T3BlbkFJ" + rnd(20)),
        ("OPENAI_API_KEY", "sk-proj-" + rnd(100, ALNUM + "-_")),
        ("ANTHROPIC_API_KEY", "sk-ant-api03-" + rnd(93, ALNUM + "-_") + "AA"),
        ("HF_TOKEN", "hf_" + rnd(34, string.ascii_letters)),
        ("HUGGING_FACE_HUB_TOKEN", "hf_" + rnd(34, string.ascii_letters)),
        ("VAULT_TOKEN", "hvs." + rnd(24)),
        ("VAULT_TOKEN", "hvs." + rnd(90, ALNUM + "_-")),
        ("DIGITALOCEAN_TOKEN", "dop_v1_" + hexs(64)),
        ("DO_TOKEN", "dop_v1_" + hexs(64)),
        ("MAILCHIMP_API_KEY", hexs(32) + "-us" + str(R.randint(1, 21))),
        ("DISCORD_BOT_TOKEN", "M" + rnd(23) + "." + rnd(6) + "." + rnd(27, ALNUM + "-_")),
        ("TELEGRAM_BOT_TOKEN", f"{R.randint(10**8, 10**9)}:AA{rnd(33, ALNUM + '-_')}"),
        ("SQUARE_CLIENT_SECRET", "sq0csp-" + rnd(43, ALNUM + "-_")),
        ("ARTIFACTORY_API_KEY", "AKC" + rnd(70)),
        ("CLOUDSDK_TOKEN", "ghp_" + rnd(36)),
        ("TOKEN", "glpat-" + rnd(20)),
        ("DEPLOY", "ghp_" + rnd(36)),
    )


def secrets_private_keys() -> None:
    sa = json.dumps(
        {
            "type": "service_account",
            "project_id": "my-project-123",
            "private_key_id": hexs(40),
            "private_key": pem("PRIVATE KEY", 12),
            "client_email": "app@my-project-123.iam.gserviceaccount.com",
            "client_id": str(R.randint(10**20, 10**21)),
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )
    add(
        "private-key",
        ("TLS_KEY", pem("RSA PRIVATE KEY", 10)),
        ("SSL_KEY", pem("PRIVATE KEY", 8)),
        ("JWT_PRIVATE_KEY", pem("PRIVATE KEY", 8)),
        ("SSH_PRIVATE_KEY", pem("OPENSSH PRIVATE KEY", 7)),
        ("DEPLOY_KEY", pem("OPENSSH PRIVATE KEY", 7)),
        ("EC_KEY", pem("EC PRIVATE KEY", 3)),
        ("GPG_PRIVATE_KEY", pem("PGP PRIVATE KEY BLOCK", 12)),
        ("GOOGLE_CREDENTIALS", sa),
        ("GCP_SA_KEY", sa),
        ("SIGNING_KEY", pem("ENCRYPTED PRIVATE KEY", 9)),
        ("SOPS_AGE_KEY", "AGE-SECRET-KEY-1" + rnd(58, UPPER_DIGITS)),
        (
            "CERT_KEY",
            pem("RSA PRIVATE KEY", 6).replace("\n", "\\n"),
        ),  # a key with escaped newlines, as in .env files
    )


def secrets_jwt() -> None:
    sa_claims = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "prod",
        "sub": "system:serviceaccount:prod:app",
    }
    add(
        "jwt",
        ("KUBE_TOKEN", jwt(sa_claims)),
        ("ID_TOKEN", jwt({"sub": uid(), "aud": "api", "exp": 1767225600})),
        ("BEARER", jwt({"sub": "svc", "scope": "read write"})),
        ("SUPABASE_ANON", jwt({"role": "anon", "iss": "supabase"})),
        ("HASURA_ADMIN_JWT", jwt({"https://hasura.io/jwt/claims": {"x-hasura-default-role": "admin"}})),
        ("AUTH_HEADER_VALUE", jwt({"sub": "ci", "iat": 1700000000})),
        (
            "PRIVATE_REGISTRY_JWT",
            jwt({"access": [{"type": "repository", "name": "app", "actions": ["pull"]}]}),
        ),
    )


def secrets_urls() -> None:
    add(
        "url-password",
        ("DATABASE_URL", f"postgres://app:{rnd(16)}@db:5432/app"),
        ("DATABASE_URL", "postgresql://user:password@localhost:5432/mydb"),
        ("DATABASE_URL", f"mysql://wp:{password().replace(' ', '')}@mysql:3306/wordpress"),
        ("SQLALCHEMY_DATABASE_URI", f"postgresql+psycopg2://app:{rnd(20)}@db/app"),
        ("MONGO_URL", f"mongodb://root:{rnd(12)}@mongo:27017/admin?authSource=admin"),
        ("MONGODB_URI", f"mongodb+srv://app:{rnd(16)}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true"),
        ("REDIS_URL", f"redis://:{rnd(24)}@redis:6379/0"),
        ("REDIS_URL", f"rediss://default:{rnd(32)}@cache.example.com:6380"),
        ("CELERY_BROKER_URL", f"amqp://app:{rnd(12)}@rabbitmq:5672//"),
        ("AMQP_URL", f"amqps://user:{rnd(16)}@mq.example.com/vhost"),
        ("HTTP_PROXY", f"http://proxyuser:{rnd(10)}@proxy.corp:3128"),
        ("HTTPS_PROXY", f"http://svc:{rnd(12)}@proxy:8080"),
        ("PIP_EXTRA_INDEX_URL", f"https://deploy:{rnd(20)}@pypi.corp.example.com/simple"),
        ("SPRING_DATASOURCE_URL", f"jdbc:postgresql://db:5432/app?user=app&password={rnd(14)}"),
        ("GIT_URL", f"https://x-access-token:{rnd(40)}@git.example.com/org/repo.git"),
        (
            "ConnectionStrings__Default",
            f"Server=db;Database=app;User Id=sa;Password={rnd(14)}!;TrustServerCertificate=True",
        ),
        ("DB_DSN", f"host=db port=5432 user=app password={rnd(12)} dbname=app sslmode=require"),
        (
            "AZURE_BLOB_SAS_URL",
            f"https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&sig={rnd(43)}%3D",
        ),
        ("WEBHOOK", f"https://api.example.com/hook?access_token={rnd(32)}"),
        ("ELASTICSEARCH_HOSTS", f"https://elastic:{rnd(16)}@es01:9200"),
        ("SENTRY_URL", f"https://admin:{rnd(12)}@sentry.corp"),
        ("FTP_URL", f"ftp://backup:{rnd(10)}@ftp.example.com/backups"),
        ("SMTP_URL", f"smtps://mailer:{rnd(14)}@smtp.example.com:465"),
        ("CLICKHOUSE_URL", f"clickhouse://default:{rnd(16)}@clickhouse:9000/default"),
        ("MQTT_BROKER", f"mqtt://iot:{rnd(12)}@broker:1883"),
    )


def secrets_entropy() -> None:
    names = [
        "APP_SEED",
        "INIT_VECTOR",
        "LICENSE",
        "NR_LICENSE",
        "ROLLBAR_ACCESS",
        "BUGSNAG",
        "PUSHER_APP",
        "MAGIC_LINK",
        "SHARED",
        "BOOTSTRAP",
        "SIGNER",
        "UPLOAD_SEAL",
        "OPAQUE_BLOB",
        "CONN_AUTHZ",
        "X_SEED",
        "CRYPTO_IV",
        "HASHIDS",
        "NONCE_SEED",
        "TURN_CRED",
        "PEPPER",
    ]
    makers = [
        lambda: rnd(32),
        lambda: b64(24),
        lambda: rnd(40, ALNUM + "-_"),
        lambda: hexs(40),
        lambda: b64(33),
        lambda: rnd(24),
        lambda: hexs(64),
    ]
    for i, name in enumerate(names):
        add("high-entropy", (name, makers[i % len(makers)]()))


def secrets_structured() -> None:
    """Secrets inside structured values (issue 15): JSON, .env/INI and YAML-ish lines, pgpass, URLs in JSON,
    multi-line PEM inside JSON, each under a name that says nothing."""
    auth = base64.b64encode(f"deploy:{rnd(16)}".encode()).decode()
    add(
        "secret-name",
        ("DOCKER_AUTH_CONFIG", json.dumps({"auths": {"registry.example.com": {"auth": auth}}})),
        (
            "CONFIG_JSON",
            json.dumps({"db": {"host": "db", "port": 5432, "password": password()}, "debug": False}),
        ),
        ("APP_CONFIG", json.dumps({"smtp": {"user": "mailer", "pass": rnd(14)}, "log": "info"})),
        ("SETTINGS", json.dumps([{"name": "primary", "secret": rnd(24)}])),
        ("PGPASS", f"db.example.com:5432:app:app:{rnd(14)}"),
        ("PGPASS_LINES", f"*:*:*:replicator:{rnd(18)}\ndb2:5432:*:app:{rnd(12)}"),
        ("APP_ENV", f"DEBUG=false\nDB_HOST=db\nDB_PASSWORD={password()}\n"),
        ("DOTENV", f"export LOG_LEVEL=info\nexport API_KEY={rnd(32)}\n"),
        ("SERVICE_INI", f"[database]\nhost = db\npassword = {rnd(12)}\n"),
        ("APP_YAML", f"server:\n  port: 8080\ndatabase:\n  password: {rnd(16)}\n"),
        ("NESTED_JSON", json.dumps({"a": {"b": {"c": {"client_secret": rnd(30)}}}})),
    )
    add(
        "url-password",
        ("DATASOURCES", json.dumps({"main": {"url": f"postgres://app:{rnd(14)}@db:5432/app"}})),
        ("BROKERS_YAML", f"primary: amqp://user:{rnd(12)}@mq:5672/\nfallback: amqp://mq2:5672/\n"),
    )
    add("provider", ("CI_VARS", json.dumps({"GITHUB": "ghp_" + rnd(36), "LOG": "debug"})))
    add("private-key", ("TLS_BUNDLE", json.dumps({"cert": "x", "key": pem("RSA PRIVATE KEY")})))


def harmless_structured() -> None:
    """Structured values without a secret, and public-looking lookalikes: base64 config blobs, a reCAPTCHA
    site key, a Mapbox public token, JSON whose secret-ish keys hold settings."""
    add(
        "none",
        ("APP_CONFIG", json.dumps({"log_level": "info", "token_url": "https://auth.example.com/token"})),
        ("FEATURE_FLAGS", json.dumps({"new_ui": True, "password_min_length": 12, "secret_name": "db-creds"})),
        ("SECRETS_JSON", json.dumps({"password_file": "/run/secrets/db", "token_path": "/var/run/token"})),
        ("HELM_VALUES", "replicaCount: 2\nimage: nginx:1.27\nservice:\n  port: 80\n"),
        ("APP_ENV", "DEBUG=false\nDB_HOST=db\nDB_PASSWORD_FILE=/run/secrets/db\n"),
        ("SERVICE_MAP", "web:80:api:8080:backend"),
        ("TIME_FORMAT", "%H:%M:%S"),
        (
            "APP_CONFIG_B64",
            base64.b64encode(
                json.dumps({"region": "eu-west-1", "replicas": 3, "tier": "web"}).encode()
            ).decode(),
        ),
        ("LOGGING_CONF_B64", base64.b64encode(b"[loggers]\nkeys=root\n[handler]\nlevel=INFO\n").decode()),
        (
            "NGINX_CONF_B64",
            base64.b64encode(b"server {\n  listen 80;\n  root /usr/share/nginx;\n}\n").decode(),
        ),
        ("RECAPTCHA_SITE_KEY", "6L" + rnd(38, ALNUM + "-_")),
        ("NEXT_PUBLIC_RECAPTCHA", "6L" + rnd(38, ALNUM + "-_")),
        (
            "MAPBOX_TOKEN",
            "pk." + jwt({"u": "demo", "a": rnd(10)}).split(".", 1)[1].rsplit(".", 1)[0] + "." + rnd(22),
        ),
        ("MAPBOX_ACCESS_TOKEN", "pk.eyJ1Ijoi" + rnd(40) + "." + rnd(22, ALNUM + "-_")),
    )
    add("secret-name", ("RECAPTCHA_SECRET_KEY", "6L" + rnd(38, ALNUM + "-_")))
    add("jwt", ("MAPBOX_WRITE", "sk.eyJ1Ijoi" + rnd(40) + "." + rnd(22, ALNUM + "-_")))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main() -> None:
    harmless_images()
    harmless_platform()
    secrets_named()
    secrets_provider()
    secrets_private_keys()
    secrets_jwt()
    secrets_urls()
    secrets_entropy()
    secrets_structured()
    harmless_structured()
    header = [(line and f"# {line}") or "#" for line in (__doc__ or "").strip().splitlines()]
    lines = header + [f"{name}\t{escape(value)}\t{label}" for name, value, label in ROWS]
    OUT.write_text("\n".join(lines) + "\n")
    counts: dict[str, int] = {}
    for _, _, label in ROWS:
        counts[label] = counts.get(label, 0) + 1
    print(f"{OUT}: {len(ROWS)} rows {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
