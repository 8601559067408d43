"""The mixed-model engine: lme4's profiled REML deviance, its optimizer, Satterthwaite
degrees of freedom and the mixture likelihood-ratio test. The bottom layer: it imports
nothing else of the package."""
