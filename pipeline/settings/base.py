"""What every section of the configuration shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Port", "Strict"]

# A TCP port, as the file may give one.
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    """Unknown keys are refused: a typo in the file must not silently change nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)
