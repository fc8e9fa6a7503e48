"""``nodeisle check``: loading and running a library (observe), judging each checklist item
(checklist), the report they make (report), and static reads of node source (source_scan)."""
