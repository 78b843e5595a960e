-- Per template version: messages sent, opt-outs and complaints that followed it (it was the
-- last message before them), and payments after it.
SELECT
    s.template_id,
    s.template_version,
    s.sent,
    COALESCE(r.opt_outs, 0) AS opt_outs,
    CAST(COALESCE(r.opt_outs, 0) AS DOUBLE) / NULLIF(s.sent, 0) AS opt_out_rate,
    COALESCE(r.complaints, 0) AS complaints,
    CAST(COALESCE(r.complaints, 0) AS DOUBLE) / NULLIF(s.sent, 0) AS complaint_rate,
    COALESCE(p.payments, 0) AS payments
FROM (
    SELECT template_id, template_version, count(*) AS sent
    FROM sends
    GROUP BY template_id, template_version
) AS s
LEFT JOIN (
    SELECT
        template_id,
        template_version,
        sum(CASE WHEN intent = 'opt_out' THEN 1 ELSE 0 END) AS opt_outs,
        sum(CASE WHEN intent = 'complaint' THEN 1 ELSE 0 END) AS complaints
    FROM reply_touches
    GROUP BY template_id, template_version
) AS r ON r.template_id = s.template_id AND r.template_version = s.template_version
LEFT JOIN (
    SELECT template_id, template_version, count(*) AS payments
    FROM payment_touches
    GROUP BY template_id, template_version
) AS p ON p.template_id = s.template_id AND p.template_version = s.template_version
ORDER BY s.template_id, s.template_version
