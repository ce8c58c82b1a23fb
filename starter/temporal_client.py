"""One way to reach Temporal for every process: pydantic payloads, backoff at start-up."""
import logging

from tenacity import before_sleep_log, retry, retry_if_exception_type, stop_after_delay, wait_exponential
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config import TemporalSettings

log = logging.getLogger(__name__)


class TemporalUnreachable(Exception):
    """No Temporal server answered at the configured address within the wait."""


async def connect(settings: TemporalSettings, *, wait_s: float = 60.0) -> Client:
    """Connect, retrying with exponential backoff while the server comes up."""

    @retry(
        retry=retry_if_exception_type(RuntimeError),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(wait_s),
        before_sleep=before_sleep_log(log, logging.INFO),  # the one clear line is the caller's
        reraise=True,
    )
    async def _connect() -> Client:
        return await Client.connect(
            settings.address, namespace=settings.namespace, data_converter=pydantic_data_converter
        )

    try:
        return await _connect()
    except RuntimeError as err:
        raise TemporalUnreachable(
            f"Temporal at {settings.address} (namespace {settings.namespace}) did not answer within {wait_s:.0f} s"
        ) from err
