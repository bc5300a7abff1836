; to-le on a little-endian machine only truncates.
; r0: 0x7788
r0 = 0x1122334455667788 ll
r0 = le16 r0
exit
