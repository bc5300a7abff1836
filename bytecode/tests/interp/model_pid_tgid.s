; task << 32 | thread (the defaults are task 1, thread 1).
; r0: 0x100000001
call get_current_pid_tgid
exit
