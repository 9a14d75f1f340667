"""`ctrlens top`: the live view. Only `app` and the widget modules import Textual.

`resources` (with `cgroups`) is a plain library: per-container and per-process CPU and memory, reusable by the
Prometheus exporter without pulling in Textual. `rows` is the view model (grouping, sorting, filtering, in-place
updates), also free of Textual so it is cheap to test and to benchmark.
"""
