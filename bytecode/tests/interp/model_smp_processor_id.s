; cpu: 3
; r0: 3
call get_smp_processor_id
exit
