//! riskflow sandbox
