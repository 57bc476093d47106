-- One row per user over the triaged findings (`findings`: enriched, exclusions applied): the
-- view an analyst starts from, highest score first.
WITH pairs AS (
    SELECT UserPrincipalName, count(*) AS AsnPairs
    FROM (SELECT DISTINCT UserPrincipalName, InteractiveASN, NonInteractiveASN FROM findings)
    GROUP BY UserPrincipalName
)
SELECT
    f.UserPrincipalName,
    count(*)                AS Findings,
    max(p.AsnPairs)         AS DistinctAsnPairs,
    min(f.InteractiveTime)  AS FirstTime,
    max(f.NonInteractiveTime) AS LastTime,
    max(f.Score)            AS TopScore
FROM findings f
JOIN pairs p ON p.UserPrincipalName = f.UserPrincipalName
GROUP BY f.UserPrincipalName
ORDER BY TopScore DESC, Findings DESC, f.UserPrincipalName
