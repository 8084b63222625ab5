"""The C's page lists as the spec's symbolic lists, for the refinement checker.

csource/lists.py lets another list model replace the kernel's linked list;
this one keeps each ``struct list_head`` list as a model/state.py
``SymbolicList`` (the representation the spec's lists have in a symbolic
run), so that a C list and a spec list are compared component for component.

A list head holds its ``SymbolicList`` in its ``next`` slot. An entry met
while walking a list is a ``Cursor``: the ``lru`` node of a page whose PFN is
the list's element at position ``k`` (positions count from the tail, the
first entry is at ``n - 1``); walking past the last entry gives the head
itself, as the kernel's iterators do, so ``list_for_each_entry*`` work
unchanged. The lists are only ever changed at their first entry:
``list_add`` and ``list_del`` of the first entry are modelled, anything else
(``list_add_tail``, deleting another entry) is ``Unsupported``.
"""
from __future__ import annotations

import z3

from balloonspec.csource.errors import DriverFault, Unsupported
from balloonspec.csource.kernel import Page
from balloonspec.csource.lists import ListHead
from balloonspec.model.state import SymbolicList

END = 0xFFFFFFFF  # the position of the head itself (past the last entry)


class Cursor(ListHead):
    """The node of the entry at position ``k`` of the list at ``head``."""

    __slots__ = ("head", "k")

    def __init__(self, page, head: ListHead, k) -> None:
        super().__init__(page, "lru")
        self.head, self.k = head, k


def entry(ops, head: ListHead, k):
    """The page at position ``k`` of the list (a new Page whose lru is a Cursor)."""
    lst = head.next
    page = Page(z3.Select(lst.arr, k), z3.BoolVal(True))
    page.f_lru = Cursor(page, head, k)
    return page


def position_of(value, head: ListHead):
    """The position a pointer local holds on the list at ``head`` (END for the head)."""
    if value is head:
        return z3.BitVecVal(END, 32)
    if type(value) is not Page:
        return None
    node = value.f_lru
    if isinstance(node, Cursor) and node.head is head:
        return node.k
    return None


def at(ops, head: ListHead, k):
    """The pointer a position denotes: the head (END) or the entry at ``k``."""
    if ops.cond(k == END):
        return head
    return entry(ops, head, k)


def _list(head) -> SymbolicList:
    if not isinstance(head, ListHead):
        raise DriverFault(f"not a list_head ({'NULL' if head is None else type(head).__name__})")
    lst = head.next
    if not isinstance(lst, SymbolicList):
        raise DriverFault("use of a list_head that was never initialised")
    return lst


class SymbolicLists:
    """The list operations of csource/lists.py over SymbolicList (module doc)."""

    def __init__(self, ops) -> None:
        self.ops = ops

    def init(self, head) -> None:
        if not isinstance(head, ListHead):
            raise DriverFault("INIT_LIST_HEAD of something that is not a list_head")
        head.next = SymbolicList.new(head.member or "list")
        head.prev = None

    def add(self, new, head) -> None:
        lst = _list(head)
        page = getattr(new, "parent", None)
        if type(page) is not Page or isinstance(new, Cursor):
            raise Unsupported("list_add of an entry that is already on a list (symbolic list model)")
        k = lst.n
        lst.add(self.ops, page.pfn)
        # the node now stands for that position, so it can be deleted again
        new.next, new.prev = ("on", head), k

    def add_tail(self, new, head) -> None:
        raise Unsupported("list_add_tail (the symbolic list model adds at the first entry only)")

    def _where(self, entry_):
        if isinstance(entry_, Cursor):
            return entry_.head, entry_.k
        if isinstance(entry_, ListHead) and isinstance(entry_.next, tuple) and entry_.next[0] == "on":
            return entry_.next[1], entry_.prev
        raise DriverFault("list_del of an entry that is on no list")

    def delete(self, entry_) -> None:
        head, k = self._where(entry_)
        lst = _list(head)
        if not self.ops.cond(k == lst.n - 1):
            raise Unsupported("list_del of an entry other than the first (symbolic list model)")
        lst.take(self.ops)
        if isinstance(entry_, Cursor):
            entry_.head, entry_.k = None, None
        entry_.next, entry_.prev = None, None

    def empty(self, head):
        return _list(head).n == 0

    def first(self, head):
        lst = _list(head)
        if self.ops.cond(lst.n == 0):
            return head
        return entry(self.ops, head, lst.n - 1).f_lru

    def next(self, node):
        if isinstance(node, Cursor):
            if node.head is None:
                raise DriverFault("use of a deleted list entry")
            if self.ops.cond(node.k == 0):
                return node.head
            return entry(self.ops, node.head, node.k - 1).f_lru
        if isinstance(node, ListHead) and isinstance(node.next, SymbolicList):
            return self.first(node)
        raise DriverFault("list iteration from a node that is on no list")

    def last(self, head):
        raise Unsupported("a walk from the list's tail (symbolic list model)")

    def prev(self, node):
        raise Unsupported("a walk from the list's tail (symbolic list model)")

    def nodes(self, head):
        raise Unsupported("walking a symbolic list for inspection")
