"""Real Kubernetes pods in the testbed, without a kubelet or API server.

* client.py: a CRI (runtime.v1) gRPC client, compiled at run time from api.proto (written for the testbed,
  field numbers of k8s.io/cri-api) with grpcio-tools.
* pods.py: drives containerd's own CRI plugin as a kubelet does (RunPodSandbox, CreateContainer,
  StartContainer, StopPodSandbox, RemovePodSandbox), and makes cri-dockerd-style pods on Docker.
"""
