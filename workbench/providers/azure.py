"""``azure-openai``: Azure OpenAI deployments.

``POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=...``
(also ``/completions`` and ``/embeddings``) with the key in the ``api-key`` header.
Bodies and streams are the OpenAI format (the deployment, not the body, names the
model), so this reuses :class:`~workbench.providers.openai_compat.OpenAICompatClient`.

Config::

    - name: gpt-4o
      provider: azure-openai
      base_url: https://my-resource.openai.azure.com
      deployment: gpt-4o-prod
      api_version: "2024-10-21"
      api_key_env: AZURE_OPENAI_API_KEY
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from workbench.providers._http import validate_remote
from workbench.providers.openai_compat import OpenAICompatClient, openai_body

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry
    from workbench.providers._types import ChatRequest


def _validate(target: ModelTarget) -> None:
    validate_remote(target, "azure-openai")
    if not target.deployment:
        raise ValueError("azure-openai targets need deployment (the Azure deployment name)")
    if not target.api_version:
        raise ValueError('azure-openai targets need api_version (e.g. "2024-10-21")')


class AzureOpenAIClient(OpenAICompatClient):
    """Calls one Azure OpenAI deployment."""

    provider = "azure-openai"

    def __init__(self, target: ModelTarget) -> None:
        super().__init__(target)
        assert target.deployment and target.api_version, "validated at config load"
        self.deployment = target.deployment
        self.query = urlencode({"api-version": target.api_version})

    def auth_headers(self) -> dict[str, str]:
        """Azure takes the key in ``api-key``."""
        return {"api-key": self.key} if self.key else {}

    def url(self, kind: str) -> str:
        """The deployment URL of ``kind`` with ``api-version``."""
        dep = quote(self.deployment, safe="")
        return f"{self.base_url}/openai/deployments/{dep}/{kind}?{self.query}"

    def body(self, req: ChatRequest) -> dict[str, Any]:
        """The OpenAI body without ``model`` (the deployment names it)."""
        return openai_body(req, self.allow_fields)

    def embed_body(self, texts: list[str]) -> dict[str, Any]:
        """The embeddings body without ``model``."""
        return {"input": texts}


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``azure-openai``."""

    @registry.provider(
        "azure-openai",
        capabilities=("chat", "completions", "embeddings"),
        validate=_validate,
        description="Azure OpenAI deployment (api-key header, api-version query)",
    )
    def _factory(target: ModelTarget) -> Any:
        return AzureOpenAIClient(target)
