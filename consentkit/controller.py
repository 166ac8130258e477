"""Who answers for the processing: the data controller named in receipts (Kantara
``piiControllers``) and in the visitor's receipt copy. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError, reject_unknown_keys

__all__ = ["Controller"]


@dataclass(frozen=True, slots=True)
class Controller:
    """The data controller named in the visitor's receipt copy (Kantara ``piiControllers``).

    Set it as a ``[controller]`` table in TOML, ``Policy(controller=Controller(...))``,
    a plain mapping with these keys, or just the name as a string.
    """

    name: str = ""
    contact: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""
    url: str = ""

    @classmethod
    def coerce(cls, value: object, *, source: str, key: str = "controller") -> Controller:
        """A controller from a string (the name), a mapping or a :class:`Controller`."""
        if isinstance(value, Controller):
            return value
        if isinstance(value, str):
            return cls(name=value)
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"expected a table, got {type(value).__name__}",
                source=source,
                key=key,
                fix='write [controller] with name = "...", email = "..."',
            )
        reject_unknown_keys(value, cls.__dataclass_fields__, source=source, where=key)
        for field_name, field_value in value.items():
            if not isinstance(field_value, str):
                raise ConfigError(
                    f"must be a string, got {type(field_value).__name__}",
                    source=source,
                    key=f"{key}.{field_name}",
                    fix=f'write {field_name} = "..."',
                )
        return cls(**value)

    def as_dict(self, *, policy_url: str = "") -> dict[str, str]:
        """The fields by name, plus the privacy policy's address, for receipt rendering."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**fields, "policy_url": policy_url}
