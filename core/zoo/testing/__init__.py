"""Test utilities for zoo and plugin authors: the model contract and a local Hugging Face Hub server.

``zoo.testing.test_contract`` is the contract every registered model keeps, as a pytest module parametrized over
the installed architectures (small instances from each spec's ``test_config``)::

    ZOO_STRICT_PLUGINS=1 pytest --pyargs zoo.testing.test_contract -k my-model

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
`{HF_ENDPOINT}/api/agent-harnesses` on huggingface.co. Large files (weights, anything of 10 MB or more) are uploaded
as the installed client does it: through Xet with `hf_xet` installed (the default; the server offers the Xet write
token and content store the client uses), through the LFS batch API with `HF_HUB_DISABLE_XET=1`. It also serves
branches and tags, commit history, `model_info` with `cardData`, `get_paths_info`, organisations
(`orgs={"acme": ["alice"]}`) and bounded request bodies (`max_body_bytes`).
"""

from zoo.testing.hub import HubServer

__all__ = ["HubServer"]
