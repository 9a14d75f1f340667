"""`ctrlens serve`: a Prometheus exporter of container posture and usage, collected on scrape.

Layers, so that only the HTTP face needs prometheus-client:
- `catalog`: every metric the exporter can emit (name, type, labels, help): the documented, bounded set.
- `sources`: one class per kind of fact (cgroup usage, namespaces/root/rootfs, audit, secrets, drift), each with
  its own cache lifetime; adding a fact is adding a source.
- `engine`: one collection = one scan + every source, cached briefly so that concurrent or rapid scrapes share it.
- `collector` and `server` (import prometheus-client): turn a collection into metric families, serve HTTP.
"""
