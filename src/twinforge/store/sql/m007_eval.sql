-- m007_eval: filled in by its stage; until then a no-op
SELECT 1;
