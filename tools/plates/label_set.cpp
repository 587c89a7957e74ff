#include "tools/plates/label_set.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace stopline::tools {

namespace {

std::vector<std::string> splitTabs(const std::string &line)
{
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (true) {
        std::size_t tab = line.find('\t', start);
        fields.push_back(line.substr(start, tab - start));
        if (tab == std::string::npos)
            break;
        start = tab + 1;
    }
    return fields;
}

int parseInt(const std::string &field, const char *name)
{
    int value = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || end != field.data() + field.size())
        throw std::invalid_argument(std::string(name) + " is not an integer: '" + field + "'");
    return value;
}

} // namespace

PlateLabel parsePlateLabel(const std::string &rawLine, const std::filesystem::path &dir)
{
    std::string line = rawLine;
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
        line.pop_back();
    std::vector<std::string> fields = splitTabs(line);
    if (fields.size() < 5)
        throw std::invalid_argument("expected 'file<TAB>x<TAB>y<TAB>w<TAB>h<TAB>text', got " +
                                    std::to_string(fields.size()) + " tab-separated fields");
    if (fields[0].empty())
        throw std::invalid_argument("image file name is empty");
    PlateLabel label;
    label.image = dir / fields[0];
    label.box = cv::Rect(parseInt(fields[1], "x"), parseInt(fields[2], "y"),
                         parseInt(fields[3], "width"), parseInt(fields[4], "height"));
    if (label.box.x < 0 || label.box.y < 0 || label.box.width <= 0 || label.box.height <= 0)
        throw std::invalid_argument("box must have x, y >= 0 and width, height > 0");
    if (fields.size() > 5)
        label.text = fields[5];
    return label;
}

std::vector<PlateLabel> loadPlateLabels(const std::filesystem::path &dir,
                                        std::vector<std::string> *errors)
{
    std::vector<std::filesystem::path> files;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".txt")
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());

    std::vector<PlateLabel> labels;
    for (const auto &file : files) {
        std::ifstream in(file);
        std::string line;
        int lineNo = 0;
        bool any = false;
        while (std::getline(in, line)) {
            ++lineNo;
            if (line.find_first_not_of(" \t\r\n") == std::string::npos)
                continue;
            try {
                PlateLabel label = parsePlateLabel(line, dir);
                label.source = file.filename().string();
                labels.push_back(std::move(label));
                any = true;
            } catch (const std::invalid_argument &e) {
                if (errors)
                    errors->push_back(file.filename().string() + ":" + std::to_string(lineNo) +
                                      ": " + e.what());
            }
        }
        if (!any && errors && lineNo == 0)
            errors->push_back(file.filename().string() + ": empty label file");
    }
    return labels;
}

} // namespace stopline::tools
