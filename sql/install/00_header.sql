/* credit_scoring 0.1.0: the registry, training, scoring and the trigger. */
\echo Use "CREATE EXTENSION credit_scoring" to load this file. \quit

