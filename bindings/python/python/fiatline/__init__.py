"""fiatline: the BTC/USD price from Bitcoin transactions alone.

The Rust core of fiatline (``fiatline-core``), with the numbers of the
``fiatline`` command line: the same code computes them.

>>> import fiatline
>>> block = open("samples/block-702861.bin", "rb").read()
>>> fiatline.price_blocks([block])["price"]
42951.63645734903
"""

from ._core import (
    Calculator,
    FiatlineError,
    NoPriceError,
    block_transactions,
    price_blocks,
    refine,
)

__all__ = [
    "Calculator",
    "FiatlineError",
    "NoPriceError",
    "block_transactions",
    "price_blocks",
    "refine",
]
