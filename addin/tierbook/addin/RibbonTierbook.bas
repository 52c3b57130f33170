Attribute VB_Name = "RibbonTierbook"
' tierbook.xlam: the one callback of the tierbook ribbon tab.
'
' Every button of the tab (customUI/customUI14.xml, generated from tierbook.excel.BUTTONS
' by scripts/build_xlam.py) has onAction="RibbonTierbook.TierbookButton". The id of the
' clicked button goes to tierbook.excel.ribbon, which runs that button's script on the
' calling workbook (xw.Book.caller()). RunPython is in the xlwings module of this project.
Option Explicit

Sub TierbookButton(control As IRibbonControl)
    RunPython "import tierbook.excel; tierbook.excel.ribbon('" & control.Id & "')"
End Sub
