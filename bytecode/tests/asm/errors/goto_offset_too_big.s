; expect: 3:6 out-of-range
; message: jump offset 32768 is out of range: expected -32768 to 32767
goto +32768
