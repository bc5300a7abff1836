; Division by an immediate 0 is encodable and also gives 0.
; r0: 0
r0 = -1
r0 /= 0
exit
