"""The gRPC server as a component of the serving app: started after the models, stopped before the log flushes."""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import grpc

from .grpc_service import InferenceService
from .oip import grpc_predict_v2_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)


class GrpcServer:
    def __init__(self, service: InferenceService, host: str, port: int, max_message_bytes: int,
                 threads: int = 4) -> None:
        self.service, self.host, self.requested_port, self.max_message_bytes = service, host, port, max_message_bytes
        self.threads = threads
        self.port = 0  # the bound port once started (port 0 asks for any free one)
        self._server: grpc.Server | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._shadows: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        limit = self.max_message_bytes
        # A few threads: calls run session.run (which releases the GIL) while others decode; more would only
        # queue for the same core. One more thread runs shadow candidates.
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="grpc")
        self._shadows = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grpc-shadow")
        self.service.loop, self.service.shadows = asyncio.get_running_loop(), self._shadows
        server = grpc.server(self._pool, options=[
            ("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 1),  # one server per worker process on the same port: the kernel spreads calls
        ])
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.service, server)
        self.port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if not self.port:
            raise OSError(f"gRPC cannot listen on {self.host}:{self.requested_port}")
        server.start()
        self._server = server
        logger.info("gRPC (OIP v2) listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            stopped = self._server.stop(grace=1.0)  # calls in flight finish; their predictions reach the log
            await asyncio.to_thread(stopped.wait)
            self._server = None
        for pool in (self._pool, self._shadows):
            if pool is not None:
                pool.shutdown(wait=True)

    def problems(self) -> list[str]:
        return [] if self._server is not None else ["grpc server not started"]
