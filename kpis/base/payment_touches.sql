-- Each payment with the last message sent to the account before it (the last touch).
-- Payments made before any message are not attributed to a rung.
SELECT lender, account_key, paid_at, amount, rung, channel, template_id, template_version,
    touch_at
FROM (
    SELECT
        p.lender,
        p.account_key,
        p.at_utc AS paid_at,
        p.amount,
        s.rung,
        s.channel,
        s.template_id,
        s.template_version,
        s.at_utc AS touch_at,
        row_number() OVER (
            PARTITION BY p.lender, p.account_key, p.at_utc, p.amount
            ORDER BY s.at_utc DESC, s.rung DESC, s.channel
        ) AS recency
    FROM events AS p
    JOIN sends AS s
        ON s.lender = p.lender AND s.account_key = p.account_key AND s.at_utc <= p.at_utc
    WHERE p.event_type = 'payment'
) AS touched
WHERE recency = 1
