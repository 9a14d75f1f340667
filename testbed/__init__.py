"""A testbed of REAL container engines for ctrlens: private containerd, dockerd, Podman and LXC under one
state dir, a busybox image with a static `nginx`, and helpers that start containers and return their host
pids.

    from testbed import Testbed
    tb = Testbed.up()                      # or Testbed.load() to attach to a running one
    web = tb.run_docker("web", "-e", "TOP_SECRET=API_KEY", cmd=("/usr/sbin/nginx", "-p", "80"))
    ...                                    # web.pid is the host pid of the container's init
    tb.remove(web)
    pod = tb.run_cri_pod("web", "shop", "burstable")   # a real pod from containerd's CRI plugin (testbed/cri)
    old = tb.run_dockershim_pod("legacy", "shop")      # a cri-dockerd-style pod on Docker
    tb.remove_pod(pod); tb.remove_pod(old)
    tb.down()

CLI: python -m testbed install|up|down|status|demo|demo-down. Needs root.
"""

from .core import (
    CTR_IMAGE,
    CTR_NAMESPACE,
    DEFAULT_CMD,
    DEFAULT_STATE_DIR,
    DOCKER_IMAGE,
    KUBE_NAMESPACE,
    PODMAN_IMAGE,
    Pod,
    Started,
    Testbed,
    default_state_dir,
    down,
    status,
    unique_name,
)
from .cri.pods import CriPod, PodContainer
from .errors import CommandError, TestbedError

__all__ = [
    "CTR_IMAGE",
    "CTR_NAMESPACE",
    "DEFAULT_CMD",
    "DEFAULT_STATE_DIR",
    "DOCKER_IMAGE",
    "KUBE_NAMESPACE",
    "PODMAN_IMAGE",
    "CommandError",
    "CriPod",
    "Pod",
    "PodContainer",
    "Started",
    "Testbed",
    "TestbedError",
    "default_state_dir",
    "down",
    "status",
    "unique_name",
]
