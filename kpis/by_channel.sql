-- Per channel: messages sent, delivered (by the providers' receipts), payments after, cost.
SELECT
    s.channel,
    s.sent,
    d.receipts,
    d.delivered,
    CAST(d.delivered AS DOUBLE) / NULLIF(s.sent, 0) AS delivery_rate,
    COALESCE(p.payments, 0) AS payments,
    s.cost
FROM (
    SELECT channel, count(*) AS sent, sum(cost) AS cost FROM sends GROUP BY channel
) AS s
LEFT JOIN (
    SELECT
        channel,
        count(*) AS receipts,
        sum(CASE WHEN status = 'DELIVERED' THEN 1 ELSE 0 END) AS delivered
    FROM events
    WHERE event_type = 'delivery'
    GROUP BY channel
) AS d ON d.channel = s.channel
LEFT JOIN (
    SELECT channel, count(*) AS payments FROM payment_touches GROUP BY channel
) AS p ON p.channel = s.channel
ORDER BY s.channel
