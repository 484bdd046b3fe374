"""Type stubs of fiatline's compiled module."""

from typing import Any, Iterable, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, Union

Refinement = Literal["reference", "recentre", "hourly"]
Bytes = Union[bytes, bytearray, memoryview, str]
"""Raw bytes, or the same as hex text."""
TransactionLike = Union[Bytes, Mapping[str, Any]]
"""Raw bytes, hex, or a dict shaped like Bitcoin Core's verbose JSON
(``getblock <hash> 2``, ``getrawtransaction <txid> true``)."""

class FiatlineError(ValueError):
    """Bad input: a malformed block or transaction, an unknown option."""

class NoPriceError(FiatlineError):
    """The data hold no price."""

class SimplePrice(TypedDict):
    price_usd: float
    confidence: float

def price_blocks(blocks: Iterable[Bytes], refinement: Refinement = "reference") -> dict[str, Any]:
    """Prices the blocks as one run, in order, and returns the fields of
    ``fiatline price --json`` (``price``, ``rough``, ``confidence``,
    ``points``, …; with ``refinement="hourly"`` also ``refined``, ``grade``,
    ``open``, ``high``, ``low``, ``close``, ``hours``, ``path``).

    Raises FiatlineError for a malformed block, NoPriceError when the blocks
    hold no price."""

def block_transactions(block: Bytes) -> list[bytes]:
    """Returns the raw transactions of a block, in order."""

def refine(points: Iterable[Tuple[int, float]], central: float, date: str) -> dict[str, Any]:
    """Re-prices a day from its ``(time, price)`` points with the hourly
    refinement, as ``fiatline refine --json`` does: ``central`` is the day's
    reference price, ``date`` the UTC day (``YYYY-MM-DD``)."""

class Calculator:
    """A run that takes blocks and transactions as they come and estimates
    at any time."""

    def __init__(self, refinement: Refinement = "reference") -> None: ...
    def add_block(self, block: Bytes, height: Optional[int] = None) -> None:
        """Adds a block; its height from its BIP 34 coinbase unless given."""
    def add_transaction(
        self, raw: TransactionLike, time: Optional[int] = None, height: int = 0
    ) -> None:
        """Adds one transaction; ``time`` (Unix seconds) places its price
        points in the hourly refinement (a dict's ``blocktime`` or ``time``
        when not given)."""
    def estimate(self) -> dict[str, Any]:
        """Estimates everything added so far: the fields of ``price_blocks``."""
    def calculate_price_for_transactions(self, txs: Iterable[TransactionLike]) -> SimplePrice:
        """Prices ``txs`` alone, as one run (nothing added before counts),
        and returns ``{"price_usd": …, "confidence": …}``."""
