"""Test utilities for zoo and plugin authors: a local Hugging Face Hub server.

`HubServer` speaks the subset of the Hub HTTP API that the real `huggingface_hub` client uses to push and
pull, so Hub round trips run against 127.0.0.1 with no network::

    from huggingface_hub import HfApi, hf_hub_download
    from zoo.testing import HubServer

    with HubServer(tokens={"secret": "alice"}) as hub:
        api = HfApi(endpoint=hub.endpoint, token="secret")
        api.create_repo("alice/demo")
        api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/demo")
        hf_hub_download("alice/demo", "config.json", endpoint=hub.endpoint, cache_dir="...")

Set `HF_HUB_DISABLE_TELEMETRY=1` (before importing huggingface_hub) so the client does not call
`{HF_ENDPOINT}/api/agent-harnesses` on huggingface.co.
"""

from zoo.testing._hub_server import HubServer

__all__ = ["HubServer"]
