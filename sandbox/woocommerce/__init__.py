"""A local WooCommerce store speaking REST v3 and webhooks over real HTTP, faithful to the contract note."""
from sandbox.woocommerce.config import DEMO_KEY, DEMO_READ_ONLY_KEY, ApiKey, SandboxConfig
from sandbox.woocommerce.server import RunningSandbox, main, run_woocommerce_sandbox, serve

__all__ = ["DEMO_KEY", "DEMO_READ_ONLY_KEY", "ApiKey", "RunningSandbox", "SandboxConfig", "main",
           "run_woocommerce_sandbox", "serve"]
