// The paging schemes kvmkit walks, one row each.  A scheme lives in its own
// file under src/arch/ and defines its create function; adding one is that
// file plus a declaration and a row here.
//
// make_translator with an unknown name throws kind unsupported:
//   "unknown paging scheme \"<name>\" (known: amd64, amd64-la57, i386, i386-pae, i386-pae-pdpt, arm64)"
#include <kvm/arch.h>
#include <kvm/error.h>

#include <fmt/format.h>

#include <array>

namespace kvm {

std::unique_ptr<Translator> make_amd64_translator(const TranslatorParams& params);
std::unique_ptr<Translator> make_amd64_la57_translator(const TranslatorParams& params);
std::unique_ptr<Translator> make_i386_translator(const TranslatorParams& params);
std::unique_ptr<Translator> make_i386_pae_translator(const TranslatorParams& params);
std::unique_ptr<Translator> make_i386_pae_pdpt_translator(const TranslatorParams& params);
std::unique_ptr<Translator> make_arm64_translator(const TranslatorParams& params);

namespace {
constexpr std::array translator_table{
    TranslatorInfo{.name = "amd64", .create = &make_amd64_translator},
    TranslatorInfo{.name = "amd64-la57", .create = &make_amd64_la57_translator},
    TranslatorInfo{.name = "i386", .create = &make_i386_translator},
    TranslatorInfo{.name = "i386-pae", .create = &make_i386_pae_translator},
    TranslatorInfo{.name = "i386-pae-pdpt", .create = &make_i386_pae_pdpt_translator},
    TranslatorInfo{.name = "arm64", .create = &make_arm64_translator},
};
}  // namespace

std::span<const TranslatorInfo> all_translators() {
    return translator_table;
}

std::unique_ptr<Translator> make_translator(std::string_view name, const TranslatorParams& params) {
    for (const auto& row : translator_table)
        if (row.name == name) return row.create(params);
    std::string known;
    for (const auto& row : translator_table)
        known += fmt::format("{}{}", known.empty() ? "" : ", ", row.name);
    throw_unsupported(fmt::format("unknown paging scheme \"{}\" (known: {})", name, known));
}

}  // namespace kvm
