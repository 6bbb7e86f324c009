"""The vendor's model name inside a cloud's model id, so the capability and price tables that
know `claude-sonnet-4-5` also know `us.anthropic.claude-sonnet-4-5-20250929-v1:0` (Bedrock: a
cross-region prefix, the vendor, a version suffix; ARNs end in the id) and
`claude-sonnet-4-5@20250929` (Vertex)."""

from __future__ import annotations

import re

_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|jp|au|ca|us-gov|global)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs)\."
)
_VERSION = re.compile(r"-v\d+(?::\d+)?$")


def base_model_id(name: str) -> str:
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    match = _BEDROCK.match(name)
    if match:
        name = _VERSION.sub("", name[match.end() :])
    return name.replace("@", "-")
