"""``nodeisle check``: loading and running a library (observe), judging each checklist item
(checklist), and static reads of node source (source_scan)."""
