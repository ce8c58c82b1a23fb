"""One way to reach Temporal for every process: pydantic payloads, backoff at start-up."""
import logging

from tenacity import before_sleep_log, retry, retry_if_exception_type, stop_after_delay, wait_exponential
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config import TemporalSettings

log = logging.getLogger(__name__)


async def connect(settings: TemporalSettings, *, wait_s: float = 60.0) -> Client:
    """Connect, retrying with exponential backoff while the server comes up (RuntimeError on failure)."""

    @retry(
        retry=retry_if_exception_type(RuntimeError),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(wait_s),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    async def _connect() -> Client:
        return await Client.connect(
            settings.address, namespace=settings.namespace, data_converter=pydantic_data_converter
        )

    return await _connect()
