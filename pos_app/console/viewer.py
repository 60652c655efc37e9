"""Who is looking, and which stores they may see: an owner every store, a manager their own store only."""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.engine.store.console_accounts import ConsoleUser, Role


@dataclass(frozen=True)
class Viewer:
    name: str
    role: Role
    store_id: str | None  # a manager's store
    csrf_token: str  # every form of this signed-in browser carries it

    @classmethod
    def of(cls, user: ConsoleUser, csrf_token: str) -> Viewer:
        return cls(name=user.name, role=Role(user.role), store_id=user.store_id, csrf_token=csrf_token)

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER

    def stores(self, chosen: str | None = None) -> tuple[str, ...] | None:
        """The stores a query may read: ``None`` means every store (an owner who chose none).

        A manager always gets their own store whatever they asked for; asking for another store gets
        nothing from it (the same answer as a store with no payments).
        """
        if self.is_owner:
            return (chosen,) if chosen else None
        assert self.store_id is not None
        return (self.store_id,)
