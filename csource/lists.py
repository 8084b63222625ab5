"""The driver's ``struct list_head`` lists, behind one small class.

The C reaches a list only through the list helpers (``INIT_LIST_HEAD``,
``list_add``, ``list_add_tail``, ``list_del``, ``list_empty`` and the
iterators of csource/include/linux/list.h), which the interpreter sends to
the ``lists`` object of its state. ``LinkedLists`` is the kernel's own
circular doubly linked list over ``ListHead`` nodes, exactly (a deleted
entry's pointers are poisoned, and following them is a driver fault), so a
driver that corrupts a list fails as the compiled one would.

Another list model (the symbolic engine's, for instance) can replace it:
it implements the same methods over the same ``ListHead`` nodes (a head is a
``struct list_head`` member of the driver's state; an entry's node is the
``lru`` member of a page, whose ``parent`` is the page).
"""
from __future__ import annotations

from .errors import DriverFault


class Poison:
    """LIST_POISON1/2: what list_del leaves in a deleted entry's pointers."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise DriverFault(f"use of a deleted list entry ({self.name})")

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self):  # copies and pickles are the module's two poisons
        return "POISON1" if self.name == "LIST_POISON1" else "POISON2"


POISON1, POISON2 = Poison("LIST_POISON1"), Poison("LIST_POISON2")


class ListHead:
    """A ``struct list_head``: a list head, or the node of an entry (``parent``
    is the struct it is a member of, ``member`` its field name)."""

    __slots__ = ("next", "prev", "parent", "member")

    def __init__(self, parent=None, member: str | None = None) -> None:
        self.next = self.prev = None  # a static list_head is zeroed until INIT_LIST_HEAD
        self.parent, self.member = parent, member

    def __repr__(self) -> str:
        return f"<list_head {self.member} of {type(self.parent).__name__}>"


def _node(x, what: str) -> ListHead:
    if not isinstance(x, ListHead):
        raise DriverFault(f"{what}: not a list_head ({'NULL' if x is None else type(x).__name__})")
    return x


class LinkedLists:
    """include/linux/list.h, node for node."""

    def init(self, head) -> None:
        head = _node(head, "INIT_LIST_HEAD")
        head.next = head.prev = head

    def _insert(self, new: ListHead, prev: ListHead, nxt: ListHead) -> None:
        nxt.prev = new
        new.next = nxt
        new.prev = prev
        prev.next = new

    def add(self, new, head) -> None:
        head = _node(head, "list_add")
        self._insert(_node(new, "list_add"), head, _checked(head.next))

    def add_tail(self, new, head) -> None:
        head = _node(head, "list_add_tail")
        self._insert(_node(new, "list_add_tail"), _checked(head.prev), head)

    def delete(self, entry) -> None:
        entry = _node(entry, "list_del")
        nxt, prev = _checked(entry.next), _checked(entry.prev)
        nxt.prev = prev
        prev.next = nxt
        entry.next, entry.prev = POISON1, POISON2

    def empty(self, head) -> bool:
        head = _node(head, "list_empty")
        return head.next is head

    def first(self, head) -> ListHead:
        """The first node (the head itself when the list is empty)."""
        return _checked(_node(head, "list iteration").next)

    def next(self, node) -> ListHead:
        return _checked(_node(node, "list iteration").next)

    def last(self, head) -> ListHead:
        """The last node (the head itself when the list is empty)."""
        return _checked(_node(head, "list iteration").prev)

    def prev(self, node) -> ListHead:
        return _checked(_node(node, "list iteration").prev)

    def nodes(self, head) -> list[ListHead]:
        """The entries' nodes from the head (for inspection)."""
        out, n = [], self.first(head)
        while n is not head:
            out.append(n)
            n = self.next(n)
        return out


def _checked(n):
    if n is None:
        raise DriverFault("use of a list_head that was never initialised (NULL pointer)")
    if isinstance(n, Poison):
        raise DriverFault(f"use of a deleted list entry ({n.name})")
    return n
