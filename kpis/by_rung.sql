-- Per rung: messages sent, payments made after it (it was the last touch), time to pay.
SELECT
    s.rung,
    s.sent,
    COALESCE(p.payments, 0) AS payments,
    COALESCE(p.paying_accounts, 0) AS paying_accounts,
    CAST(COALESCE(p.payments, 0) AS DOUBLE) / NULLIF(s.sent, 0) AS payments_per_sent,
    p.mean_hours_to_pay
FROM (
    SELECT rung, count(*) AS sent FROM sends GROUP BY rung
) AS s
LEFT JOIN (
    SELECT
        rung,
        count(*) AS payments,
        count(DISTINCT account_key) AS paying_accounts,
        avg(date_diff('millisecond', touch_at, paid_at)) / 3600000.0 AS mean_hours_to_pay
    FROM payment_touches
    GROUP BY rung
) AS p ON p.rung = s.rung
ORDER BY s.rung
