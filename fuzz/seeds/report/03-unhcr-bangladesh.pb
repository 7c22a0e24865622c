
unhcr-bgd-2026-q1BGD-ROHINGYA 2à’«Ì:BGDBBD20RCox's BazarX`hz0ø›=
2026-01-31"Joint GoB-UNHCR registrationz*	àú 
2025-12-31"Joint needs assessment