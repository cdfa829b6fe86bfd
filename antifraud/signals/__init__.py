"""Every antifraud signal, one module each, registered in ``REGISTRY`` in a stable order.

A signal module defines one ``Signal`` (see ``base``) and registers it; importing this
package imports them all, so ``REGISTRY`` is complete wherever it is read.
"""

from antifraud.signals.base import REGISTRY, Context, Hit, Signal, register

__all__ = ["REGISTRY", "Context", "Hit", "Signal", "register"]
