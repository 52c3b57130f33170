Attribute VB_Name = "RibbonTierbook"
' tierbook.xlam: the one callback of the tierbook ribbon tab.
'
' Every button of the tab (customUI/customUI14.xml, generated from tierbook.excel.BUTTONS
' by scripts/build_xlam.py) has onAction="RibbonTierbook.TierbookButton". The id of the
' clicked button goes to tierbook.excel.ribbon, which runs that button's script on the
' calling workbook (xw.Book.caller()). RunPython is in the xlwings module of this project.
'
' While the script runs, Excel neither repaints, recalculates nor runs event macros: the
' run writes a column and whole sheets, and each write would otherwise repaint, recalculate
' the formulas that read the data and run the workbook's Change/NewSheet macros (which
' could also change cells the run is writing). The user's three settings are saved first
' and put back on every way out: the normal end (RunPython shows a Python error itself, in
' a message box, and returns -1; it raises no VBA error) and a VBA error (On Error GoTo
' Restore), which is then shown. On Windows RunPython waits for Python; on a Mac it
' returns at once (Python runs in the background), so there the run is not covered.
Option Explicit

Sub TierbookButton(control As IRibbonControl)
    Dim screenWas As Boolean, eventsWas As Boolean, calculationWas As Long
    Dim errorNumber As Long, errorText As String
    On Error GoTo Restore
    screenWas = Application.ScreenUpdating
    eventsWas = Application.EnableEvents
    calculationWas = Application.Calculation ' fails without an open workbook: nothing changed yet
    Application.ScreenUpdating = False
    Application.EnableEvents = False
    Application.Calculation = xlCalculationManual
    RunPython "import tierbook.excel; tierbook.excel.ribbon('" & control.Id & "')"
    Err.Clear ' the normal end: nothing to show
Restore:
    errorNumber = Err.Number
    errorText = Err.Description
    On Error GoTo -1 ' leave the active handler: an error in it would go past it to Excel
    On Error Resume Next ' put back all three, whatever one of them says
    Application.Calculation = calculationWas ' 0 if it could not be read: refused, ignored
    Application.EnableEvents = eventsWas
    Application.ScreenUpdating = screenWas
    On Error GoTo 0
    If errorNumber <> 0 Then MsgBox "tierbook: " & errorText, vbExclamation, "tierbook"
End Sub
