// Presentation format of SVCB/HTTPS SvcParams (RFC 9460 §2.1 and Appendix
// A), both ways; used by the rdata presentation code for the svc_params field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wire/rdata_schema.h"

namespace sextant::wire::detail {

// The presentation format rejects a mandatory list naming an absent key
// (RFC 9460 §8 and Appendix D.3); such wire data is shown generically.
bool svc_mandatory_keys_present(std::span<const uint8_t> params) noexcept;
// Expects params already checked by check_svc_params().
std::string svc_params_to_text(std::span<const uint8_t> params);
// The key=value tokens after the target name, as wire SvcParams (sorted by
// key). Throws TextError naming the bad key or value.
std::vector<uint8_t> svc_params_from_tokens(std::span<const TextToken> tokens);

}  // namespace sextant::wire::detail
