"""A CRI (runtime.v1) client: api.proto compiled with grpcio-tools on first use, into a private temp dir."""

from __future__ import annotations

import functools
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import TestbedError

PROTO = Path(__file__).with_name("api.proto")
TIMEOUT = 60.0


@functools.cache
def modules() -> tuple[ModuleType, ModuleType]:
    """(messages, stubs): the api_pb2 and api_pb2_grpc modules generated from api.proto."""
    try:
        from grpc_tools import protoc
    except ImportError:
        raise TestbedError(
            "grpcio-tools is not installed (pip install -e '.[test]'): the CRI pods need it"
        ) from None
    out = Path(tempfile.mkdtemp(prefix="ctrlens-cri-proto-"))
    shutil.copy(PROTO, out / "ctrlens_cri_api.proto")
    args = ["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}", "ctrlens_cri_api.proto"]
    if protoc.main(args) != 0:
        raise TestbedError(f"grpcio-tools could not compile {PROTO}")
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("ctrlens_cri_api_pb2"), importlib.import_module(
            "ctrlens_cri_api_pb2_grpc"
        )
    finally:
        sys.path.remove(str(out))


class CriClient:
    """The RuntimeService of one CRI endpoint (a unix socket), called with plain keyword arguments."""

    def __init__(self, socket: Path | str) -> None:
        import grpc

        self.socket = str(socket)
        self.pb, grpc_mod = modules()
        self._channel = grpc.insecure_channel(f"unix://{self.socket}")
        self._stub = grpc_mod.RuntimeServiceStub(self._channel)
        self._rpc_error = grpc.RpcError

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CriClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any, timeout: float = TIMEOUT) -> Any:
        """One unary call; a gRPC error becomes a TestbedError naming the method and the runtime's message."""
        try:
            return getattr(self._stub, method)(request, timeout=timeout)
        except self._rpc_error as e:
            detail = e.details() if hasattr(e, "details") else str(e)
            code = e.code().name if hasattr(e, "code") else "?"
            raise TestbedError(f"CRI {method} at {self.socket} failed ({code}): {detail}") from None

    def version(self) -> Any:
        return self.call("Version", self.pb.VersionRequest(version="v1"), timeout=10)

    def run_pod_sandbox(self, config: Any) -> str:
        return str(self.call("RunPodSandbox", self.pb.RunPodSandboxRequest(config=config)).pod_sandbox_id)

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self.call("StopPodSandbox", self.pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self.call("RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))

    def pod_sandbox_status(self, sandbox_id: str, verbose: bool = True) -> Any:
        req = self.pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose)
        return self.call("PodSandboxStatus", req)

    def list_pod_sandbox(self) -> list[Any]:
        return list(self.call("ListPodSandbox", self.pb.ListPodSandboxRequest()).items)

    def create_container(self, sandbox_id: str, config: Any, sandbox_config: Any) -> str:
        req = self.pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
        )
        return str(self.call("CreateContainer", req).container_id)

    def start_container(self, container_id: str) -> None:
        self.call("StartContainer", self.pb.StartContainerRequest(container_id=container_id))

    def list_containers(self, sandbox_id: str | None = None) -> list[Any]:
        filt = self.pb.ContainerFilter(pod_sandbox_id=sandbox_id or "")
        return list(self.call("ListContainers", self.pb.ListContainersRequest(filter=filt)).containers)

    def container_status(self, container_id: str, verbose: bool = True) -> Any:
        req = self.pb.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        return self.call("ContainerStatus", req)
