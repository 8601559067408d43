# Profile-likelihood 95% CIs of random-effect SDs and sigma, for pytest
# (tests/unit/mixed/test_profile.py).
#
# Usage (from the repository root; R >= 4.2 with lme4, lmerTest, jsonlite):
#
#     Rscript tests/r/make_profile_reference.R
#
# Reads the data sets, model list and cluster-bootstrap resamples that
# tests/r/make_public_reference.R exported (tests/data/public/) and the study42 fixture
# (tests/data/study42/patients.csv); writes tests/data/profile_reference.csv with one row
# per model x criterion x parameter:
#
# * criterion "ML": lme4's own profile, confint(profile(fit, which = "theta_",
#   signames = FALSE, delta.cutoff = 1/16)). lme4 always profiles the ML deviance (its
#   devfun2 calls refitML), also for a REML fit; delta.cutoff = 1/32 (default 1/8) puts
#   the profile points 4 times closer, so that confint's spline interpolation between
#   them costs less than 1e-5 relative. `lme4_default_lower/upper` hold
#   confint(fit, parm = "theta_", method = "profile", oldNames = FALSE) as a user would
#   call it (default step), for comparison.
# * criterion "REML": lme4 has no REML profile, so it is computed here from lmerTest's
#   REML deviance as a function of (theta, sigma) (lmerTest:::devfun_vp on lme4's
#   devfun), parametrised by SDs, correlation and sigma as lme4's profile is: for each
#   parameter value the others are optimized by nlminb (PORT, box constraints: SD >= 0,
#   |cor| <= 1), the 95% bound is the root of (deviance - minimum) = qchisq(.95, 1) found
#   by uniroot (tol 1e-9 relative); a lower SD bound is 0 where the deviance at SD = 0
#   is still below the cutoff.
#
# The model's REML optimum is the better of lme4's default optimizer and bobyqa, as in
# make_public_reference.R. Deterministic (no random numbers are drawn).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

public_dir <- file.path("tests", "data", "public")
reference <- fromJSON(file.path(public_dir, "lme4_reference.json"), simplifyVector = FALSE)
LEVEL <- 0.95
CUTOFF <- qchisq(LEVEL, 1)

# Public models (random slopes, two random-intercept models, two singular fits) and a few
# cluster-bootstrap resamples (index is 0-based, as pytest counts them), singular ones
# among them.
PUBLIC_MODELS <- c("sleepstudy_ri", "machines_ri", "sleepstudy_rs", "orthodont_rs",
                   "orthodont_int", "oxboys_rs", "bodyweight_rs", "orange_rs", "gcsemv_rs")
RESAMPLES <- list(c("sleepstudy_rs", 0), c("sleepstudy_rs", 48), c("orthodont_int", 0),
                  c("orthodont_int", 3), c("oxboys_rs", 12))

read_public <- function(name, group) {
  file <- reference$datasets[[name]]$file
  cls <- setNames("character", group)
  read.csv(file.path(public_dir, file), colClasses = cls)
}

public_spec <- function(name) {
  m <- reference$models[[name]]
  d <- read_public(m$data, m$group)
  exclude <- unlist(m$exclude)
  if (length(exclude)) d <- d[!(d[[m$group]] %in% exclude), ]
  list(name = name, data = d, response = m$response, terms = unlist(m$terms),
       group = m$group, slope = m$slope)
}

resample_spec <- function(name, k) {
  spec <- public_spec(name)
  drawn <- unlist(reference$bootstrap[[name]]$resamples[[k + 1]]$groups)
  rows <- split(seq_len(nrow(spec$data)), spec$data[[spec$group]])
  parts <- lapply(seq_along(drawn), function(j) {
    part <- spec$data[rows[[drawn[j]]], ]
    part[[spec$group]] <- sprintf("g%03d", j)
    part
  })
  spec$data <- do.call(rbind, parts)
  spec$name <- sprintf("%s#%d", name, k)
  spec
}

study42_specs <- function() {
  d <- read.csv(file.path("tests", "data", "study42", "patients.csv"),
                colClasses = c(therapist = "character", patient = "character"))
  out <- list()
  for (o in c("symptoms", "functioning")) for (p in c("alliance", "expectation")) {
    terms <- c(sprintf("baseline_%s_c", o), sprintf("%s_within", p), sprintf("%s_between", p))
    base <- list(data = d, response = sprintf("post_%s", o), terms = terms, group = "therapist")
    out[[length(out) + 1]] <- c(list(name = sprintf("aim1/%s/%s", o, p), slope = NULL), base)
    out[[length(out) + 1]] <- c(list(name = sprintf("aim2/%s/%s", o, p),
                                     slope = sprintf("%s_within", p)), base)
  }
  out
}

model_formula <- function(spec) {
  re <- if (is.null(spec$slope)) "1" else paste("1 +", spec$slope)
  as.formula(sprintf("%s ~ %s + (%s | %s)", spec$response, paste(spec$terms, collapse = " + "),
                     re, spec$group))
}

best_fit <- function(spec) {
  f <- model_formula(spec)
  fits <- list(
    default = suppressMessages(suppressWarnings(lmerTest::lmer(f, spec$data, REML = TRUE))),
    bobyqa = suppressMessages(suppressWarnings(lmerTest::lmer(
      f, spec$data, REML = TRUE, control = lmerControl(optimizer = "bobyqa"))))
  )
  ll <- sapply(fits, function(x) as.numeric(logLik(x)))
  if (ll[["bobyqa"]] > ll[["default"]] + 1e-9) fits$bobyqa else fits$default
}

# REML profile from lmerTest's deviance of (theta, sigma), in lme4's sd/cor/sigma terms.
reml_profile <- function(fit, spec) {
  devfun <- getME(fit, "devfun")
  vlist <- lengths(fit@cnms)
  hat <- as.numeric(lme4:::Cv_to_Sv(getME(fit, "theta"), n = vlist, s = sigma(fit)))
  np <- length(hat)
  dev <- function(p) {
    theta <- as.numeric(lme4:::Sv_to_Cv(p, n = vlist, s = p[np]))
    # lme4 stops where its Cholesky factor fails (far out in the tails): no optimum there
    tryCatch(lmerTest:::devfun_vp(c(theta, p[np]), devfun, reml = TRUE),
             error = function(e) Inf)
  }
  dev_hat <- dev(hat)
  is_cor <- seq_len(np) == 2 & np == 4
  # optimizer units: SDs relative to their estimate (a slope's unit where it is 0)
  unit <- abs(hat)
  if (!is.null(spec$slope)) {
    slope_unit <- 0.01 * sigma(fit) / sd(spec$data[[spec$slope]], na.rm = TRUE)
    unit[3] <- max(unit[3], slope_unit)
  }
  unit[1] <- max(unit[1], 0.01 * sigma(fit))
  unit[is_cor] <- 1
  lower <- ifelse(is_cor, -1, 0)
  upper <- ifelse(is_cor, 1, Inf)
  lower[np] <- 1e-8 * hat[np]
  # A singular fit's deviance can have a second basin on the other side of a
  # correlation of +/-1, and lme4 can stop on a worse boundary point (sleepstudy_rs
  # resample 48): for singular fits, every optimization also starts from an uncorrelated
  # and a sign-flipped correlation, and the optimum is re-found from SDs moved off zero.
  singular <- isSingular(fit)
  variants <- function(p) {
    if (np != 4 || !singular) return(list(p))
    list(p, replace(p, 2, 0), replace(p, 2, -p[2]))
  }
  off_zero <- function(p) {
    for (k in which(!is_cor & seq_len(np) < np)) if (p[k] == 0) p[k] <- unit[k]
    p
  }
  for (start in if (singular) c(variants(hat), variants(off_zero(hat))) else list()) {
    res <- nlminb(start / unit, function(x) {
      d <- dev(x * unit)
      if (is.finite(d)) d else 1e100
    }, lower = lower / unit, upper = upper / unit,
    control = list(eval.max = 4000, iter.max = 2000, rel.tol = 1e-14))
    if (res$objective < dev_hat) {
      hat <- res$par * unit
      dev_hat <- res$objective
    }
  }
  warm <- hat
  cache <- new.env()
  profiled <- function(i, value) {
    key <- sprintf("%d:%.17g", i, value)
    if (!is.null(cache[[key]])) return(cache[[key]])
    free <- setdiff(seq_len(np), i)
    obj <- function(x) {
      p <- hat
      p[i] <- value
      p[free] <- x * unit[free]
      d <- dev(p)
      if (is.finite(d)) d else 1e100
    }
    best <- NULL
    # the correlation's other basin (a sign flip, or none) is tried from every start
    for (start in c(variants(warm), variants(hat))) {
      res <- nlminb(start[free] / unit[free], obj, lower = lower[free] / unit[free],
                    upper = upper[free] / unit[free],
                    control = list(eval.max = 2000, iter.max = 1000, rel.tol = 1e-12))
      if (is.null(best) || res$objective < best$objective) best <- res
    }
    p <- hat
    p[i] <- value
    p[free] <- best$par * unit[free]
    warm <<- p
    cache[[key]] <- best$objective - dev_hat
    cache[[key]]
  }
  out <- list()
  names <- profile_names(fit, np)
  for (i in which(!is_cor)) {
    crossing <- function(v) {
      out <- profiled(i, v) - CUTOFF
      if (Sys.getenv("PROFILE_DEBUG") != "") cat(names[i], v, out, "\n")
      out
    }
    warm <<- hat
    step <- max(hat[i], unit[i])
    a <- hat[i]
    b <- hat[i] + step
    k <- 0
    while (crossing(b) < 0 && k < 60) {

      a <- b
      b <- hat[i] + (b - hat[i]) * 2
      k <- k + 1
    }
    up <- uniroot(crossing, c(a, b), tol = 1e-9 * unit[i], maxiter = 500)$root
    warm <<- hat
    if (i == np) {
      b <- hat[i]
      a <- hat[i] / 2
      while (crossing(a) < 0) {
        b <- a
        a <- a / 2
      }
      low <- uniroot(crossing, c(a, b), tol = 1e-9 * unit[i], maxiter = 500)$root
    } else if (hat[i] <= 1e-10 * unit[i] || crossing(0) < 0) {
      low <- 0
    } else {
      warm <<- hat
      low <- uniroot(crossing, c(0, hat[i]), tol = 1e-9 * unit[i], maxiter = 500)$root
    }
    out[[length(out) + 1]] <- data.frame(parameter = names[i], estimate = hat[i], lower = low,
                                         upper = up)
  }
  do.call(rbind, out)
}

profile_names <- function(fit, np) {
  grp <- names(fit@cnms)[1]
  cn <- fit@cnms[[1]]
  if (np == 2) return(c(sprintf("sd_%s|%s", cn[1], grp), "sigma"))
  c(sprintf("sd_%s|%s", cn[1], grp), sprintf("cor_%s.%s|%s", cn[2], cn[1], grp),
    sprintf("sd_%s|%s", cn[2], grp), "sigma")
}

ml_profile <- function(fit) {
  vlist <- lengths(fit@cnms)
  ml <- refitML(fit)
  hat <- as.numeric(lme4:::Cv_to_Sv(getME(ml, "theta"), n = vlist, s = sigma(ml)))
  names(hat) <- profile_names(fit, length(hat))
  fine <- tryCatch(
    suppressWarnings(confint(profile(fit, which = "theta_", signames = FALSE,
                                     delta.cutoff = 1 / 16), level = LEVEL)),
    error = function(e) NULL)
  user <- tryCatch(
    suppressWarnings(suppressMessages(confint(fit, parm = "theta_", method = "profile",
                                              oldNames = FALSE, level = LEVEL))),
    error = function(e) NULL)
  keep <- grep("^(sd_|sigma$)", names(hat), value = TRUE)
  get <- function(ci, p, j) if (is.null(ci) || !(p %in% rownames(ci))) NA else ci[p, j]
  data.frame(parameter = keep, estimate = hat[keep],
             lower = sapply(keep, function(p) get(fine, p, 1)),
             upper = sapply(keep, function(p) get(fine, p, 2)),
             lme4_default_lower = sapply(keep, function(p) get(user, p, 1)),
             lme4_default_upper = sapply(keep, function(p) get(user, p, 2)))
}

rows <- list()
# written after every model, so that a long run keeps what it has
write_rows <- function() {
  out <- do.call(rbind, rows)
  out <- out[, c("source", "model", "resample", "singular", "criterion", "parameter",
                 "estimate", "lower", "upper", "lme4_default_lower", "lme4_default_upper")]
  write.csv(out, Sys.getenv("PROFILE_OUT", file.path("tests", "data", "profile_reference.csv")),
            row.names = FALSE, na = "")
}
run <- function(spec, source, base, resample) {
  t0 <- Sys.time()
  fit <- best_fit(spec)
  reml <- reml_profile(fit, spec)
  reml$lme4_default_lower <- NA
  reml$lme4_default_upper <- NA
  reml$criterion <- "REML"
  ml <- ml_profile(fit)
  ml$criterion <- "ML"
  both <- rbind(reml, ml)
  both$source <- source
  both$model <- base
  both$resample <- resample
  both$singular <- isSingular(fit)
  rows[[length(rows) + 1]] <<- both
  write_rows()
  cat(spec$name, format(difftime(Sys.time(), t0, units = "secs"), digits = 3), "\n")
}

# `Rscript tests/r/make_profile_reference.R NAME ...` runs only the models named (to debug)
only <- commandArgs(trailingOnly = TRUE)
wanted <- function(name) length(only) == 0 || name %in% only
for (name in PUBLIC_MODELS) if (wanted(name)) run(public_spec(name), "public", name, NA)
for (r in RESAMPLES) {
  if (wanted(r[1])) run(resample_spec(r[1], as.integer(r[2])), "public", r[1], as.integer(r[2]))
}
for (spec in study42_specs()) if (wanted(spec$name)) run(spec, "study42", spec$name, NA)

cat("wrote", nrow(do.call(rbind, rows)), "rows\n")
