//! Build-vs-buy arithmetic: what one million generated tokens cost on a board, and the
//! monthly volume at which owning the board beats a hosted API.
//!
//! With `h` = hardware cost per second (purchase price ÷ lifetime, or the hourly rental
//! price ÷ 3600), `e` = energy cost per second (watts × USD/kWh ÷ 3.6e6) and `s` = generation
//! speed in tokens/s:
//!
//! * on-device cost per million tokens = (h + e) / s × 1e6 (the board running flat out);
//! * marginal energy cost per token = e / s;
//! * break-even volume per month = (h × seconds per month) ÷ (API price per token − e / s);
//!   there is none when the API is not dearer than the energy alone;
//! * capacity per month = s × seconds per month (100 % duty): if the break-even volume is
//!   above it, this board cannot reach break-even at that speed.
//!
//! A month is 365.25 / 12 days.

use anyhow::{Result, ensure};
use serde::Serialize;

use super::boards::{Board, Ownership};

pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;
pub const SECONDS_PER_MONTH: f64 = SECONDS_PER_YEAR / 12.0;

/// Prices that are not part of a board profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    /// Electricity, USD per kWh.
    pub kwh_usd: f64,
    /// Hosted API, USD per million generated tokens.
    pub api_usd_per_mtok: f64,
}

/// The cost figures of one board at one generation speed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostLine {
    /// Generation speed used, tokens/s.
    pub tg_tps: f64,
    /// On-device cost per million generated tokens (hardware + energy), USD.
    pub usd_per_mtok: f64,
    /// The energy part of it, USD per million tokens.
    pub energy_usd_per_mtok: f64,
    /// Hardware cost per month (amortization or rental), USD.
    pub hardware_usd_per_month: f64,
    /// Million tokens per month at which owning costs as much as the API; `None` when the
    /// API price does not exceed the energy cost per token (never breaks even).
    pub break_even_mtok_per_month: Option<f64>,
    /// Million tokens the board can generate per month at 100 % duty.
    pub capacity_mtok_per_month: f64,
    /// Whether the break-even volume is within the capacity.
    pub reachable: bool,
}

/// Hardware cost per second, USD.
pub fn hardware_usd_per_s(o: &Ownership) -> f64 {
    match *o {
        Ownership::Purchase {
            price_usd,
            lifetime_years,
        } => price_usd / (lifetime_years * SECONDS_PER_YEAR),
        Ownership::Rental { usd_per_hour } => usd_per_hour / 3600.0,
    }
}

/// Energy cost per second, USD: watts × USD/kWh ÷ 3.6e6 J/kWh.
pub fn energy_usd_per_s(watts: f64, kwh_usd: f64) -> f64 {
    watts * kwh_usd / 3.6e6
}

/// The cost figures of `board` generating `tg_tps` tokens/s.
pub fn cost_line(board: &Board, prices: Prices, tg_tps: f64) -> Result<CostLine> {
    ensure!(
        tg_tps.is_finite() && tg_tps > 0.0,
        "{}: generation speed {tg_tps} tokens/s is not a positive number",
        board.name
    );
    ensure!(
        prices.kwh_usd >= 0.0 && prices.api_usd_per_mtok >= 0.0,
        "prices must not be negative"
    );
    let h = hardware_usd_per_s(&board.ownership);
    let e = energy_usd_per_s(board.watts, prices.kwh_usd);
    let energy_per_token = e / tg_tps;
    let api_per_token = prices.api_usd_per_mtok / 1e6;
    let hardware_usd_per_month = h * SECONDS_PER_MONTH;
    let margin = api_per_token - energy_per_token;
    let break_even_tokens = (margin > 0.0).then(|| hardware_usd_per_month / margin);
    let capacity_tokens = tg_tps * SECONDS_PER_MONTH;
    Ok(CostLine {
        tg_tps,
        usd_per_mtok: (h + e) / tg_tps * 1e6,
        energy_usd_per_mtok: energy_per_token * 1e6,
        hardware_usd_per_month,
        break_even_mtok_per_month: break_even_tokens.map(|t| t / 1e6),
        capacity_mtok_per_month: capacity_tokens / 1e6,
        reachable: break_even_tokens.is_some_and(|t| t <= capacity_tokens),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn board(ownership: Ownership, watts: f64) -> Board {
        Board {
            name: "b".into(),
            description: String::new(),
            ownership,
            watts,
            speed_measured_here: false,
        }
    }

    #[test]
    fn purchase_cost_and_break_even_on_known_inputs() {
        // 100 USD over 1 year, 10 W at 0.36 USD/kWh (1e-6 USD/s), 10 tokens/s.
        let b = board(
            Ownership::Purchase {
                price_usd: 100.0,
                lifetime_years: 1.0,
            },
            10.0,
        );
        let p = Prices {
            kwh_usd: 0.36,
            api_usd_per_mtok: 1.0,
        };
        let c = cost_line(&b, p, 10.0).unwrap();
        let h = 100.0 / SECONDS_PER_YEAR;
        assert!(close(c.usd_per_mtok, (h + 1e-6) / 10.0 * 1e6));
        assert!(close(c.energy_usd_per_mtok, 0.1)); // 1e-7 USD per token
        assert!(close(c.hardware_usd_per_month, 100.0 / 12.0));
        // (100/12 USD) ÷ (1e-6 − 1e-7 USD/token) = 9.259e6 tokens.
        let be = c.break_even_mtok_per_month.unwrap();
        assert!(close(be, 100.0 / 12.0 / 0.9e-6 / 1e6), "{be}");
        assert!(close(
            c.capacity_mtok_per_month,
            10.0 * SECONDS_PER_MONTH / 1e6
        ));
        assert!(
            c.reachable,
            "26.3 Mtok/month capacity > 9.26 Mtok break-even"
        );

        // Slower board: 1 token/s cannot reach it.
        let slow = cost_line(&b, p, 1.0).unwrap();
        assert!(!slow.reachable);
        // API cheaper than the energy: no break-even at all.
        let cheap = Prices {
            kwh_usd: 0.36,
            api_usd_per_mtok: 0.05,
        };
        let c = cost_line(&b, cheap, 10.0).unwrap();
        assert_eq!(c.break_even_mtok_per_month, None);
        assert!(!c.reachable);
    }

    #[test]
    fn rental_cost_is_the_hourly_price() {
        let b = board(Ownership::Rental { usd_per_hour: 0.36 }, 0.0);
        let p = Prices {
            kwh_usd: 0.15,
            api_usd_per_mtok: 0.10,
        };
        let c = cost_line(&b, p, 100.0).unwrap();
        // 1e-4 USD/s ÷ 100 tokens/s = 1e-6 USD/token = 1 USD/Mtok.
        assert!(close(c.usd_per_mtok, 1.0));
        assert_eq!(c.energy_usd_per_mtok, 0.0);
        assert!(close(
            c.hardware_usd_per_month,
            0.36 / 3600.0 * SECONDS_PER_MONTH
        ));
        assert!(
            !c.reachable,
            "renting at 1 USD/Mtok never beats 0.10 USD/Mtok"
        );
        assert!(cost_line(&b, p, 0.0).is_err());
        assert!(cost_line(&b, p, f64::NAN).is_err());
    }
}
