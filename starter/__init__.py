"""Entry points people and stores talk to: the webhook starter and the operator CLI."""
