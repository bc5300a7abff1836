; expect: 3:13 unsupported
; message: legacy packet access (`skb[...]`, BPF_ABS/BPF_IND) is not supported
r0 = *(u8 *)skb[3]
