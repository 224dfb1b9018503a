//! Board profiles for the build-vs-buy section: what owning (or renting) the hardware costs.
//!
//! A profile gives either a purchase (price in USD, written off linearly over a lifetime in
//! years) or an hourly rental price (a cloud VM: energy is included in that price), plus the
//! power drawn under load in watts. Built-in profiles:
//!
//! * `this-machine` — the 2-core x86 cloud VM this project is developed and measured on. A
//!   rented VM is not a purchase, so it is priced per hour. Assumption (not measured, not
//!   billed here): 0.096 USD/hour, the on-demand Linux list price of a 2-vCPU AWS `m5.large`
//!   in us-east-1 (<https://aws.amazon.com/ec2/pricing/on-demand/>). Energy is part of the
//!   hourly price, so 0 W is billed separately. If you own the machine instead, give
//!   `--board-price`, `--board-watts` and `--board-lifetime-years`.
//! * `raspberry-pi-4` — Raspberry Pi 4 Model B 4 GB (list price 55 USD, Raspberry Pi 4 product
//!   brief, <https://datasheets.raspberrypi.com/rpi4/raspberry-pi-4-product-brief.pdf>) + the
//!   official 15.3 W USB-C power supply (8 USD) + a 32 GB microSD card (about 10 USD) = 73 USD;
//!   6.4 W under full CPU load (the brief asks for a 5 V / 3 A supply, 15 W maximum; "high
//!   load" measured 5.1–6.3 W at the supply in
//!   <https://chipwired.com/raspberry-pi-power-use>); 3-year lifetime.
//! * `raspberry-pi-5` — Raspberry Pi 5 8 GB (list price 80 USD, Raspberry Pi 5 product brief,
//!   <https://datasheets.raspberrypi.com/rpi5/raspberry-pi-5-product-brief.pdf>) + the
//!   official 27 W USB-C power supply (12 USD) + a 32 GB microSD card (about 10 USD) = 102 USD;
//!   8 W under full CPU load (an approximate typical stress-test draw of the board alone; the
//!   27 W supply rating is the ceiling including 1.6 A of USB peripherals); 3-year lifetime.
//!
//! The Raspberry Pi figures are list prices and typical draws, not measurements made by
//! `edgellm compare`; the report marks them as coming from the profile.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// How the hardware is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ownership {
    /// Bought once for `price_usd`, written off linearly over `lifetime_years`.
    Purchase { price_usd: f64, lifetime_years: f64 },
    /// Rented by the hour; the hourly price includes the energy.
    Rental { usd_per_hour: f64 },
}

/// One board profile (all money in USD).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Board {
    pub name: String,
    pub description: String,
    pub ownership: Ownership,
    /// Power drawn under load and paid for separately (0 when included in a rental price).
    pub watts: f64,
    /// Whether `compare` measures speed on this board (true only for the machine it runs on).
    pub speed_measured_here: bool,
}

/// The names of the built-in profiles.
pub const BUILT_IN: &[&str] = &["this-machine", "raspberry-pi-4", "raspberry-pi-5"];

/// A built-in profile by name.
pub fn built_in(name: &str) -> Result<Board> {
    let purchase = |price_usd, lifetime_years| Ownership::Purchase {
        price_usd,
        lifetime_years,
    };
    let b = match name {
        "this-machine" => Board {
            name: name.into(),
            description: "this 2-core x86 cloud VM, rented on demand: 0.096 USD/hour assumed \
                          (AWS m5.large list price), energy included"
                .into(),
            ownership: Ownership::Rental {
                usd_per_hour: 0.096,
            },
            watts: 0.0,
            speed_measured_here: true,
        },
        "raspberry-pi-4" => Board {
            name: name.into(),
            description: "Raspberry Pi 4 Model B 4 GB 55 USD + official PSU 8 USD + 32 GB \
                          microSD 10 USD; 6.4 W under load"
                .into(),
            ownership: purchase(73.0, 3.0),
            watts: 6.4,
            speed_measured_here: false,
        },
        "raspberry-pi-5" => Board {
            name: name.into(),
            description: "Raspberry Pi 5 8 GB 80 USD + official 27 W PSU 12 USD + 32 GB \
                          microSD 10 USD; 8 W under load"
                .into(),
            ownership: purchase(102.0, 3.0),
            watts: 8.0,
            speed_measured_here: false,
        },
        _ => bail!(
            "unknown board {name:?}; built-in boards: {} (or give --board-file FILE.toml)",
            BUILT_IN.join(", ")
        ),
    };
    Ok(b)
}

/// A profile in a TOML file:
///
/// ```toml
/// name = "my-server"          # optional, defaults to the file name
/// description = "..."         # optional
/// watts = 35                  # required (use 0 when energy is included in a rental)
/// price_usd = 600             # purchase: price_usd and lifetime_years ...
/// lifetime_years = 4
/// # usd_per_hour = 0.05       # ... or a rental price instead
/// speed_measured_here = false # optional, default false
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price_usd: Option<f64>,
    pub lifetime_years: Option<f64>,
    pub usd_per_hour: Option<f64>,
    pub watts: Option<f64>,
    pub speed_measured_here: Option<bool>,
}

/// Read and check a TOML profile; errors name the file and the field.
pub fn from_file(path: &Path) -> Result<Board> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| name.clone())?;
    let f: BoardFile =
        toml::from_str(&text).with_context(|| format!("{name}: not a board profile"))?;
    let default_name = path
        .file_stem()
        .map_or_else(|| name.clone(), |s| s.to_string_lossy().into_owned());
    from_fields(f, &default_name).with_context(|| format!("board file {name}"))
}

/// Build a profile from optional fields, checking each.
pub fn from_fields(f: BoardFile, default_name: &str) -> Result<Board> {
    let watts = field("watts", f.watts)?;
    let ownership = match (f.usd_per_hour, f.price_usd, f.lifetime_years) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => bail!(
            "give either usd_per_hour (rental) or price_usd and lifetime_years (purchase), not both"
        ),
        (Some(h), None, None) => Ownership::Rental {
            usd_per_hour: field("usd_per_hour", Some(h))?,
        },
        (None, p, l) => Ownership::Purchase {
            price_usd: field("price_usd", p)?,
            lifetime_years: positive("lifetime_years", l)?,
        },
    };
    Ok(Board {
        name: f.name.unwrap_or_else(|| default_name.to_owned()),
        description: f.description.unwrap_or_default(),
        ownership,
        watts,
        speed_measured_here: f.speed_measured_here.unwrap_or(false),
    })
}

/// Flags that change one board's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub price_usd: Option<f64>,
    pub watts: Option<f64>,
    pub lifetime_years: Option<f64>,
    pub usd_per_hour: Option<f64>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.price_usd.is_none()
            && self.watts.is_none()
            && self.lifetime_years.is_none()
            && self.usd_per_hour.is_none()
    }

    /// Apply to `b`. A price or lifetime on a rented board turns it into a purchase (both are
    /// then required); an hourly price turns a purchase into a rental.
    pub fn apply(&self, mut b: Board) -> Result<Board> {
        if let Some(w) = self.watts {
            b.watts = field("--board-watts", Some(w))?;
        }
        if let Some(h) = self.usd_per_hour {
            if self.price_usd.is_some() || self.lifetime_years.is_some() {
                bail!(
                    "--board-usd-per-hour cannot be combined with --board-price or --board-lifetime-years"
                );
            }
            b.ownership = Ownership::Rental {
                usd_per_hour: field("--board-usd-per-hour", Some(h))?,
            };
        } else if self.price_usd.is_some() || self.lifetime_years.is_some() {
            let (old_p, old_l) = match b.ownership {
                Ownership::Purchase {
                    price_usd,
                    lifetime_years,
                } => (Some(price_usd), Some(lifetime_years)),
                Ownership::Rental { .. } => (None, None),
            };
            b.ownership = Ownership::Purchase {
                price_usd: field(
                    "--board-price (board is rented by the hour, so give a price)",
                    self.price_usd.or(old_p),
                )?,
                lifetime_years: positive(
                    "--board-lifetime-years (board is rented by the hour, so give a lifetime)",
                    self.lifetime_years.or(old_l),
                )?,
            };
        }
        Ok(b)
    }
}

/// A required figure: present, finite and not negative.
fn field(name: &str, v: Option<f64>) -> Result<f64> {
    match v {
        None => bail!("missing field `{name}`"),
        Some(x) if !x.is_finite() => bail!("field `{name}` is not a finite number ({x})"),
        Some(x) if x < 0.0 => bail!("field `{name}` is negative ({x})"),
        Some(x) => Ok(x),
    }
}

/// Like [`field`], and also not zero (a divisor).
fn positive(name: &str, v: Option<f64>) -> Result<f64> {
    let x = field(name, v)?;
    if x == 0.0 {
        bail!("field `{name}` must be greater than zero");
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_valid_and_unknown_is_an_error() {
        for n in BUILT_IN {
            let b = built_in(n).unwrap();
            assert_eq!(b.name, *n);
            assert!(b.watts >= 0.0);
        }
        let e = built_in("raspberry-pi-9").unwrap_err().to_string();
        assert!(
            e.contains("unknown board \"raspberry-pi-9\"") && e.contains("raspberry-pi-5"),
            "{e}"
        );
    }

    #[test]
    fn toml_profiles_are_checked_field_by_field() {
        let parse = |s: &str| from_fields(toml::from_str(s).unwrap(), "f");
        let b = parse("watts = 5\nprice_usd = 100\nlifetime_years = 2").unwrap();
        assert_eq!(
            b.ownership,
            Ownership::Purchase {
                price_usd: 100.0,
                lifetime_years: 2.0
            }
        );
        assert_eq!(b.name, "f");
        let e = format!(
            "{:#}",
            parse("price_usd = 100\nlifetime_years = 2").unwrap_err()
        );
        assert!(e.contains("missing field `watts`"), "{e}");
        let e = format!("{:#}", parse("watts = 5\nlifetime_years = 2").unwrap_err());
        assert!(e.contains("missing field `price_usd`"), "{e}");
        let e = format!(
            "{:#}",
            parse("watts = -1\nprice_usd = 1\nlifetime_years = 2").unwrap_err()
        );
        assert!(e.contains("field `watts` is negative (-1)"), "{e}");
        let e = format!(
            "{:#}",
            parse("watts = 1\nprice_usd = 1\nlifetime_years = 0").unwrap_err()
        );
        assert!(
            e.contains("`lifetime_years` must be greater than zero"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse("watts = 1\nusd_per_hour = 0.1\nprice_usd = 3").unwrap_err()
        );
        assert!(e.contains("not both"), "{e}");
        let b = parse("watts = 0\nusd_per_hour = 0.1").unwrap();
        assert_eq!(b.ownership, Ownership::Rental { usd_per_hour: 0.1 });
        assert!(
            toml::from_str::<BoardFile>("wats = 1").is_err(),
            "unknown field accepted"
        );
    }

    #[test]
    fn overrides_apply_and_are_checked() {
        let pi = built_in("raspberry-pi-5").unwrap();
        let o = Overrides {
            price_usd: Some(150.0),
            ..Default::default()
        };
        let b = o.apply(pi.clone()).unwrap();
        assert_eq!(
            b.ownership,
            Ownership::Purchase {
                price_usd: 150.0,
                lifetime_years: 3.0
            }
        );
        let o = Overrides {
            watts: Some(-2.0),
            ..Default::default()
        };
        let e = o.apply(pi).unwrap_err().to_string();
        assert!(e.contains("`--board-watts` is negative"), "{e}");
        // A rented machine needs both a price and a lifetime to become a purchase.
        let vm = built_in("this-machine").unwrap();
        let o = Overrides {
            price_usd: Some(500.0),
            ..Default::default()
        };
        let e = o.apply(vm).unwrap_err().to_string();
        assert!(e.contains("missing field `--board-lifetime-years"), "{e}");
    }
}
