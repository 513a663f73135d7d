import logging
import os


def configure_logging(service: str) -> None:
    level = os.environ.get("CONVEYOR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level, format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
