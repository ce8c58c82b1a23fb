"""An in-memory ERP that keeps the `adapters.erp.Erp` promises the way our Tryton module keeps them."""
from sandbox.erp.memory import ErpFault, InMemoryErp

__all__ = ["ErpFault", "InMemoryErp"]
