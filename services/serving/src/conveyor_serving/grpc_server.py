"""The gRPC server as a component of the serving app: started after the models, stopped before the log flushes."""

import logging

import grpc

from .grpc_service import InferenceService
from .oip import grpc_predict_v2_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)


class GrpcServer:
    def __init__(self, service: InferenceService, host: str, port: int, max_message_bytes: int) -> None:
        self.service, self.host, self.requested_port, self.max_message_bytes = service, host, port, max_message_bytes
        self.port = 0  # the bound port once started (port 0 asks for any free one)
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        limit = self.max_message_bytes
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 1),  # one server per worker process on the same port: the kernel spreads calls
        ])
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.service, server)
        self.port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if not self.port:
            raise OSError(f"gRPC cannot listen on {self.host}:{self.requested_port}")
        await server.start()
        self._server = server
        logger.info("gRPC (OIP v2) listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=1.0)  # calls in flight finish; their predictions reach the log
            self._server = None

    def problems(self) -> list[str]:
        return [] if self._server is not None else ["grpc server not started"]
