; trap: UnsupportedCall at 0
call btf#5
exit
