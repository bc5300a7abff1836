; Helper 4 (Linux's probe_read) is not in capscope's table.
; trap: UnknownHelper at 0
call 4
exit
