"""The Tryton module `retail_sync`: each ERP step of the integration as one RPC method, one transaction.

A step done over several client calls can be interrupted between them (a worker killed, Tryton
stopped, a lost response) and leave the ERP halfway, e.g. a shipment cut but its remainder not yet
on a new one. Here every step runs inside Tryton, in the transaction of one call: an interrupted or
overlapping attempt is either before it or after it, never halfway, and each step is idempotent on
the key the integration gives it (sale key, 3PL shipment id, RMA, refund key).

Installed by the embedded ERP's bootstrap; trytond finds it through the `trytond.modules` entry point.
"""
